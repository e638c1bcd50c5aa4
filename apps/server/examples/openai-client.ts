import OpenAI from "openai";

// emosteer serve needs no key unless started with --api-key, but the client insists on one.
const client = new OpenAI({
  baseURL: process.env.OPENAI_BASE_URL ?? "http://127.0.0.1:8080/v1",
  apiKey: process.env.OPENAI_API_KEY ?? "none",
});
// Not an OpenAI field: the client sends it as it is, and the server steers with it.
const steering = { emotions: { joy: 1.5, fear: -1 } };
const completion = await client.chat.completions.create({
  model: "smollm2-135m-instruct",
  messages: [{ role: "user", content: "How do I bake bread?" }],
  max_tokens: 48,
  temperature: 0,
  ...steering,
});
console.log(completion.choices[0]?.message.content);
console.log("usage:", completion.usage, "steering:", (completion as { steering?: unknown }).steering);
