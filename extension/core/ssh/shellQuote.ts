/**
 * Quotes a value for a POSIX shell command line: every user value that reaches a remote shell
 * (sshd runs exec commands through the login shell) goes through here.
 */
export function shellQuote(value: string): string {
  if (value !== "" && /^[A-Za-z0-9_./=:@%+,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Quotes each word and joins them with spaces. */
export function shellCommand(words: readonly string[]): string {
  return words.map(shellQuote).join(" ");
}
