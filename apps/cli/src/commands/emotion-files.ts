import { existsSync, readFileSync } from "node:fs";
import { CORE_EMOTIONS, isCoreEmotion, parseUserEmotion, type Emotion, type UserEmotion } from "@emosteer/core";
import { UsageError } from "../usage-error.js";

export const EMOTION_FILE_HELP = `  --emotion-file FILE   a user-defined emotion (JSON: name, conditioningPrompt, optional examples
                        of {query, neutral, emotional}; the bench's format); repeatable`;

/**
 * The user-defined emotions of `--emotion-file` options, parsed by core's `parseUserEmotion` (the
 * bench reads the same files with it). A missing file is a wrong command line; a malformed one
 * fails with core's message naming the file and the field.
 */
export function readEmotionFiles(paths: readonly string[] | undefined): UserEmotion[] {
  const emotions: UserEmotion[] = [];
  for (const path of paths ?? []) {
    if (!existsSync(path)) throw new UsageError(`--emotion-file: no such file "${path}"`);
    const emotion = parseUserEmotion(readFileSync(path, "utf8"), path);
    if (emotions.some((e) => e.name === emotion.name))
      throw new UsageError(`--emotion-file: two files define "${emotion.name}"; pass one per emotion`);
    emotions.push(emotion);
  }
  return emotions;
}

/** The emotions a command knows: the five core ones and those the emotion files define. */
export function knownEmotions(userEmotions: readonly UserEmotion[]): Emotion[] {
  return [...CORE_EMOTIONS, ...userEmotions.map((e) => e.name)];
}

/**
 * `--emotions joy,awe` → the emotions named, each core or defined by an `--emotion-file`. Without
 * the option: the emotion files' emotions when there are any (that is what the user came to
 * extract), else the five core emotions.
 */
export function parseEmotions(value: string | undefined, userEmotions: readonly UserEmotion[]): Emotion[] {
  if (value === undefined) return userEmotions.length > 0 ? userEmotions.map((e) => e.name) : [...CORE_EMOTIONS];
  const emotions: Emotion[] = [];
  for (const name of value.split(",").map((e) => e.trim())) {
    assertKnown("--emotions", name, userEmotions);
    if (!emotions.includes(name)) emotions.push(name);
  }
  return emotions;
}

/** Throws a usage error naming `option` unless `name` is a core emotion or one an emotion file defines. */
export function assertKnown(option: string, name: string, userEmotions: readonly UserEmotion[], extra = ""): void {
  if (isCoreEmotion(name) || userEmotions.some((e) => e.name === name)) return;
  throw new UsageError(
    `${option}: unknown emotion "${name}"; choose from ${knownEmotions(userEmotions).join(", ")}, or define it with --emotion-file FILE${extra}`,
  );
}
