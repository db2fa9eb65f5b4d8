/**
 * Host aliases a user has written in ssh config, for "Add Host…": every `Host` pattern without
 * wildcards or negation, following `Include` (relative paths resolve against ~/.ssh, globs
 * allowed, nested) the way OpenSSH reads it.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { expandGlob } from "../../core/ssh/config";

const maxDepth = 16;

/** Aliases in file order, without duplicates. Unreadable files contribute nothing. */
export function sshConfigAliases(
  configFile: string = join(homedir(), ".ssh", "config"),
  home: string = homedir(),
): string[] {
  const seen = new Set<string>();
  const visit = (file: string, depth: number): void => {
    if (depth > maxDepth) return;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      return;
    }
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (!line || line.startsWith("#")) continue;
      const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
      if (!m) continue;
      const keyword = m[1]!.toLowerCase();
      const args = splitArgs(m[2]!);
      if (keyword === "host") {
        for (const pattern of args) if (!/[*?!]/.test(pattern)) seen.add(pattern);
      } else if (keyword === "include") {
        for (const arg of args) {
          const expanded = arg.startsWith("~/")
            ? join(home, arg.slice(2))
            : isAbsolute(arg)
              ? arg
              : join(home, ".ssh", arg);
          for (const included of expandGlob(expanded)) visit(included, depth + 1);
        }
      }
    }
  };
  visit(configFile, 0);
  return [...seen];
}

function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] ?? m[2]!);
  return out;
}
