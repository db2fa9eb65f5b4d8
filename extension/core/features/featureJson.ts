import { parse as jsoncParse } from "jsonc-parser/lib/esm/main.js";
import type { ParseError } from "jsonc-parser/lib/esm/main.js";
import * as z from "zod";
import { contributionFields, stringArray } from "./metadata";

const optionSchema = z.looseObject({
  type: z.enum(["boolean", "string"], { error: 'expected "boolean" or "string"' }),
  default: z.union([z.string(), z.boolean()]).optional(),
  description: z.string().optional(),
  proposals: z.array(z.string()).optional(),
  enum: z.array(z.string()).optional(),
});

/** An option value as devcontainer.json gives it: a string (the `version` option), a boolean, or named options. */
export const featureValueSchema = z.union([
  z.string(),
  z.boolean(),
  z.record(z.string(), z.union([z.string(), z.boolean()])),
]);
export type FeatureValue = z.infer<typeof featureValueSchema>;

/**
 * `devcontainer-feature.json`, the properties launching reads; others (name, keywords, …) pass
 * through untouched. Lifecycle commands have the devcontainer.json forms.
 */
export const featureJsonSchema = z.looseObject({
  id: z.string().regex(/^[a-zA-Z0-9_-]+$/, { error: "expected a feature id (letters, digits, - and _)" }),
  version: z.string().optional(),
  name: z.string().optional(),
  description: z.string().optional(),
  documentationURL: z.string().optional(),
  options: z.record(z.string(), optionSchema).optional(),
  containerEnv: z.record(z.string(), z.string()).optional(),
  ...contributionFields,
  dependsOn: z.record(z.string(), featureValueSchema).optional(),
  installsAfter: stringArray.optional(),
  legacyIds: stringArray.optional(),
  currentId: z.string().optional(),
  deprecated: z.boolean().optional(),
});
export type FeatureJson = z.infer<typeof featureJsonSchema>;

/** Parses devcontainer-feature.json text (JSON with comments); throws an Error naming `where` and the first problem. */
export function parseFeatureJson(text: string, where: string): FeatureJson {
  let value: unknown;
  try {
    value = parseJsonc(text);
  } catch (err) {
    throw new Error(`${where}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const result = featureJsonSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
    throw new Error(
      `${where}: invalid devcontainer-feature.json${path}: ${issue?.message ?? "unknown problem"}`,
    );
  }
  return result.data;
}

function parseJsonc(text: string): unknown {
  // Feature authors write comments and trailing commas like in devcontainer.json.
  const errors: ParseError[] = [];
  const value: unknown = jsoncParse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length) throw new Error(`syntax error at offset ${errors[0]!.offset}`);
  return value;
}
