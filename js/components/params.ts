/** Parameter values typed in the sidebar, read as Python-like literals. */

/** `0.1` -> 0.1, `true` -> true, `"a"` -> "a", `abc` -> "abc". */
export function parseValue(text: string): unknown {
  const trimmed = text.trim();
  const pythonic: Record<string, unknown> = { True: true, False: false, None: null };
  if (trimmed in pythonic) {
    return pythonic[trimmed];
  }
  try {
    return JSON.parse(trimmed);
  } catch {
    return text;
  }
}
