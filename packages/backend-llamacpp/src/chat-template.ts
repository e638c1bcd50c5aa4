import type { ChatMessage } from "@emosteer/core";
import { Template } from "@huggingface/jinja";

/** Renders chat messages with a model's own Jinja chat template (from its GGUF). */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    source: string,
    private readonly specialTokens: { readonly bos: string; readonly eos: string },
  ) {
    this.template = new Template(source);
  }

  render(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
    return this.template.render({
      messages: messages.map(({ role, content }) => ({ role, content })),
      add_generation_prompt: addGenerationPrompt,
      bos_token: this.specialTokens.bos,
      eos_token: this.specialTokens.eos,
    });
  }
}
