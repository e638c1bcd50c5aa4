/** The five core emotions every model gets vectors for. */
export const CORE_EMOTIONS = ["joy", "anger", "disgust", "fear", "sadness"] as const;

export type CoreEmotion = (typeof CORE_EMOTIONS)[number];

/**
 * An emotion name: one of the five core emotions, or a user-defined one
 * (lower-case letters, digits, `-` and `_`, see {@link assertEmotionName}).
 */
export type Emotion = CoreEmotion | (string & {});

export function isCoreEmotion(name: string): name is CoreEmotion {
  return (CORE_EMOTIONS as readonly string[]).includes(name);
}

const EMOTION_NAME = /^[a-z][a-z0-9_-]{0,47}$/;

/** Throws when `name` cannot be used as an emotion name (it becomes part of file names and GGUF keys). */
export function assertEmotionName(name: string): asserts name is Emotion {
  if (!EMOTION_NAME.test(name)) {
    throw new TypeError(
      `Emotion name ${JSON.stringify(name)} is not allowed: use 1-48 lower-case letters, digits, '-' or '_', starting with a letter (e.g. "awe" or "nostalgia").`,
    );
  }
}
