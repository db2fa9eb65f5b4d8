import { resolve } from "node:path";
import { formatDiagnostic } from "../../core/devcontainer/diagnostics";
import { TemplateError, renderTemplate, writeTemplate } from "../../core/templates/apply";
import { loadTemplateSource, wellKnownTemplates } from "../../core/templates/source";
import type { Command } from "../command";
import { registryArtifactFetcher } from "../../core/templates/registryFetcher";

const defaultTemplate = wellKnownTemplates[0]!;

/**
 * `zonectl init [PATH] [--template REF] [--option NAME=VALUE]… [--omit-path P]… [--force]`:
 * applies a Dev Container Template into a project folder. Exit codes: 0 written, 1 the template
 * is missing, invalid or unreachable, or files exist (nothing written), 2 usage.
 */
export const initCommand: Command = {
  name: "init",
  summary: "create a devcontainer.json from a Dev Container Template",
  usage: `[PATH] [--template REF] [--option NAME=VALUE]… [--omit-path PATH]… [--force]\n\nREF: a template folder (./my-template) or an OCI reference (default ${defaultTemplate}).\nOptions not given take the template's defaults. Existing files are never overwritten without --force.`,
  options: {
    template: { type: "string", short: "t" },
    option: { type: "string", short: "o", multiple: true },
    "omit-path": { type: "string", multiple: true },
    force: { type: "boolean", short: "f" },
  },
  async run(ctx, { values, positionals }) {
    const usage = (message: string): number => {
      ctx.stderr.write(`zonectl init: ${message}\nusage: zonectl init ${initCommand.usage}\n`);
      return 2;
    };
    if (positionals.length > 1) return usage(`expected at most one PATH, got ${positionals.length}`);
    const given: Record<string, string> = {};
    for (const item of (values["option"] as string[] | undefined) ?? []) {
      const eq = item.indexOf("=");
      if (eq <= 0) return usage(`--option ${item}: expected NAME=VALUE`);
      given[item.slice(0, eq)] = item.slice(eq + 1);
    }
    const reference = typeof values["template"] === "string" ? values["template"] : defaultTemplate;
    const target = resolve(process.cwd(), positionals[0] ?? ".");
    try {
      const source = await loadTemplateSource(reference, {
        cwd: process.cwd(),
        ...(ctx.env["HOME"] ? { home: ctx.env["HOME"] } : {}),
        fetcher: registryArtifactFetcher,
        signal: ctx.signal,
      });
      const rendered = renderTemplate(source, given, (values["omit-path"] as string[] | undefined) ?? []);
      const { written } = await writeTemplate(rendered, target, { force: values["force"] === true });
      const d = source.definition;
      ctx.stdout.write(
        `${d.name}${d.version ? ` ${d.version}` : ""} applied to ${target}: ${written.length} file(s)\n${written.map((f) => `  ${f}\n`).join("")}`,
      );
      for (const name of rendered.options.defaulted)
        ctx.stdout.write(
          `  option ${name} = ${JSON.stringify(rendered.options.values.get(name))} (default)\n`,
        );
      for (const u of rendered.unknownPlaceholders)
        ctx.stderr.write(`zonectl init: ${u.path}: no option named ${u.names.join(", ")}; left as written\n`);
      return 0;
    } catch (err) {
      if (!TemplateError.is(err)) throw err;
      for (const d of err.details.diagnostics ?? []) ctx.stderr.write(`${formatDiagnostic(d)}\n`);
      ctx.stderr.write(`zonectl init: ${err.message}\n`);
      return err.reason === "options" ? 2 : 1;
    }
  },
};
