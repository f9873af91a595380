// .dockerignore matching with Docker's semantics (moby's patternmatcher): patterns are cleaned paths relative to
// the context root; `*` and `?` stay within one path segment, `**` spans any number of segments; a pattern that
// matches a parent directory matches everything under it; `!` re-includes; the last matching pattern wins.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, posix } from "node:path";

type Pattern = { source: string; exclusion: boolean; regex: RegExp };

export function parseDockerignore(text: string): Pattern[] {
  const patterns: Pattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const exclusion = line.startsWith("!");
    if (exclusion) line = line.slice(1).trim();
    let cleaned = posix.normalize(line);
    if (cleaned.length > 1 && cleaned.startsWith("/")) cleaned = cleaned.slice(1);
    if (cleaned.length > 1 && cleaned.endsWith("/")) cleaned = cleaned.slice(0, -1);
    patterns.push({ source: raw, exclusion, regex: compile(cleaned) });
  }
  return patterns;
}

function compile(pattern: string): RegExp {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === "*" && pattern[i + 1] === "*") {
      i++;
      if (pattern[i + 1] === "/") i++;
      re += i + 1 >= pattern.length ? ".*" : "(.*/)?";
    } else if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else if (ch === "\\" && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else re += /[.+()|{}^$[\]]/.test(ch) ? `\\${ch}` : ch;
  }
  return new RegExp(`${re}$`);
}

/** Whether `path` (relative to the context root, `/`-separated) is left out of the build context. */
export function isIgnored(patterns: Pattern[], path: string): boolean {
  const parts = path.split("/");
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  let ignored = false;
  for (const p of patterns) {
    if (candidates.some((c) => p.regex.test(c))) ignored = !p.exclusion;
  }
  return ignored;
}

export function readDockerignore(root: string): Pattern[] {
  return parseDockerignore(readFileSync(join(root, ".dockerignore"), "utf8"));
}

/** Every file at or under `path` (relative to root) that the build context would contain. */
export function contextFiles(root: string, patterns: Pattern[], path: string): string[] {
  if (!statSync(join(root, path)).isDirectory()) return isIgnored(patterns, path) ? [] : [path];
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
      const child = rel === "" ? entry.name : `${rel}/${entry.name}`;
      // node_modules and .git are never walked (the checks assert they are ignored).
      if (entry.name === "node_modules" || entry.name === ".git") continue;
      if (entry.isDirectory()) walk(child);
      else if (!isIgnored(patterns, child)) out.push(child);
    }
  };
  walk(path);
  return out;
}
