import { describe, expect, it } from "vitest";
import { FlagTable, parseArgv } from "../../src/cli/argv.ts";
import { UsageError } from "../../src/cli/errors.ts";
import { field } from "../../src/config/index.ts";

const global = FlagTable.of({
  file: field.string({ description: "f", short: "f", default: "sync.c1z" }),
  provisioning: field.bool({ description: "p", short: "p" }),
  apiKey: field.string({ description: "k", secret: true }),
  tags: field.stringList({ description: "t" }),
});
const commands: Record<string, FlagTable> = {
  resources: FlagTable.of({ output: field.enum({ description: "o", short: "o", values: ["console", "json"], default: "console" }) }),
  simulate: FlagTable.of({ port: field.int({ description: "p", default: 0 }) }),
};
const parse = (...argv: string[]) => parseArgv(argv, global, (n) => commands[n], (flag) => Object.keys(commands).filter((c) => commands[c]!.long.has(flag)));

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error("expected a UsageError");
}

describe("parseArgv", () => {
  it("parses long, inline, short and attached short values", () => {
    expect(parse("--file", "a.c1z").flags).toEqual({ file: "a.c1z" });
    expect(parse("--file=a=b.c1z").flags).toEqual({ file: "a=b.c1z" });
    expect(parse("-f", "x").flags).toEqual({ file: "x" });
    expect(parse("-fx.c1z").flags).toEqual({ file: "x.c1z" });
    expect(parse("-f=x.c1z").flags).toEqual({ file: "x.c1z" });
  });

  it("bools take no separate value but accept =false", () => {
    const r = parse("-p", "resources");
    expect(r.flags).toEqual({ provisioning: true });
    expect(r.command).toBe("resources");
    expect(parse("--provisioning=false").flags).toEqual({ provisioning: "false" });
  });

  it("global flags go anywhere, command flags only after the command", () => {
    expect(parse("-f", "x", "resources", "-o", "json", "-p")).toMatchObject({ command: "resources", flags: { file: "x", output: "json", provisioning: true } });
    expect(usage(() => parse("-o", "json", "resources"))).toBe("unknown flag -o");
    expect(usage(() => parse("--port", "1"))).toBe("unknown flag --port (it is a flag of: simulate)");
    expect(usage(() => parse("resources", "--port", "1"))).toBe("unknown flag --port for resources (it is a flag of: simulate)");
  });

  it("list flags repeat", () => {
    expect(parse("--tags", "a", "--tags=b,c").flags).toEqual({ tags: ["a", "b,c"] });
  });

  it("never echoes an unknown flag's value", () => {
    const message = usage(() => parse("--api-kee=super-secret-value"));
    expect(message).toBe("unknown flag --api-kee (did you mean --api-key?)");
  });

  it("a value flag at the end or before another long flag is missing its value", () => {
    expect(usage(() => parse("--file"))).toBe("flag --file needs a value");
    expect(usage(() => parse("--file", "--provisioning"))).toBe("flag --file needs a value");
    expect(parse("--file", "-").flags).toEqual({ file: "-" });
  });

  it("-- ends flags; help and version are recognised anywhere", () => {
    expect(parse("resources", "--", "--file")).toMatchObject({ command: "resources", args: ["--file"] });
    expect(parse("resources", "-h")).toMatchObject({ command: "resources", help: true });
    expect(parse("--version").version).toBe(true);
    expect(parse("nope", "x")).toMatchObject({ command: undefined, args: ["nope", "x"] });
  });
});
