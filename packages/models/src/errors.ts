import { EmosteerError } from "@emosteer/core";

export class HashMismatchError extends EmosteerError {
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `${file}: sha256 is ${actual}, expected ${expected}. The download is corrupt or the package was republished; delete it and fetch again.`,
    );
  }
}
