import * as z from "zod";
import { styroliteSchema } from "./styrolite";

/**
 * The devcontainer.json property set (containers.dev reference, devContainer.base.schema.json),
 * as one zod schema covering the image, Dockerfile and Compose forms together: which form a file
 * uses, and whether a zone can honour it, is the planner's call, not a schema error.
 * Objects are strict so unknown keys surface; the validator turns those into warnings.
 */

/** `^\d+([tgmk]b)?$`: bytes, or a count with a unit (powers of 1024), as the spec writes sizes. */
export const specSizeSchema = z.string().regex(/^\d+([tgmk]b)?$/, {
  error: 'expected a size like "4gb", "512mb" or a byte count',
});

const stringArray = z.array(z.string(), { error: "expected an array of strings" });

/** A lifecycle command: a shell string, an argv array, or named commands run in parallel. */
export const commandSchema = z.union(
  [
    z.string(),
    z.array(z.string(), { error: "expected an array of strings (argv)" }),
    z.record(
      z.string(),
      z.union([z.string(), z.array(z.string())], { error: "expected a string or an array of strings" }),
    ),
  ],
  { error: "expected a command: a string, an array of strings, or an object of named commands" },
);

const portAttributesSchema = z.strictObject({
  label: z.string().optional(),
  protocol: z.enum(["http", "https"]).optional(),
  onAutoForward: z
    .enum(["notify", "openBrowser", "openBrowserOnce", "openPreview", "silent", "ignore"])
    .optional(),
  requireLocalPort: z.boolean().optional(),
  elevateIfNeeded: z.boolean().optional(),
});

const mountObjectSchema = z.strictObject({
  type: z.enum(["bind", "volume"]),
  source: z.string().optional(),
  target: z.string().min(1),
});

const portNumber = z.number().int().min(0).max(65535);

const gpuSchema = z.union(
  [
    z.boolean(),
    z.literal("optional"),
    z.strictObject({
      cores: z.number().int().min(1).optional(),
      memory: specSizeSchema.optional(),
    }),
  ],
  { error: 'expected true, false, "optional" or { "cores", "memory" }' },
);

/** The zod schema of a whole devcontainer.json. */
export const devcontainerSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().optional(),

  // Image form
  image: z
    .string()
    .min(1, { error: "image must not be empty" })
    .max(4096, { error: "image reference is too long" })
    .optional(),
  // Dockerfile form (and the legacy top-level dockerFile/context aliases)
  build: z
    .strictObject({
      dockerfile: z.string().optional(),
      context: z.string().optional(),
      args: z.record(z.string(), z.string()).optional(),
      target: z.string().optional(),
      cacheFrom: z
        .union([z.string(), stringArray], { error: "expected a string or an array of strings" })
        .optional(),
      options: stringArray.optional(),
    })
    .optional(),
  dockerFile: z.string().optional(),
  context: z.string().optional(),
  // Compose form
  dockerComposeFile: z
    .union([z.string(), stringArray], { error: "expected a string or an array of strings" })
    .optional(),
  service: z.string().optional(),
  runServices: stringArray.optional(),

  // Environment and users
  containerEnv: z.record(z.string(), z.string({ error: "expected a string value" })).optional(),
  remoteEnv: z
    .record(z.string(), z.union([z.string(), z.null()], { error: "expected a string or null" }))
    .optional(),
  containerUser: z.string().optional(),
  remoteUser: z.string().optional(),
  updateRemoteUserUID: z.boolean().optional(),
  userEnvProbe: z.enum(["none", "loginShell", "loginInteractiveShell", "interactiveShell"]).optional(),

  // Storage
  mounts: z
    .array(
      z.union([z.string(), mountObjectSchema], {
        error: 'expected a --mount string or { "type", "source", "target" }',
      }),
    )
    .optional(),
  workspaceMount: z.string().optional(),
  workspaceFolder: z.string().optional(),

  // Container runtime
  runArgs: stringArray.optional(),
  overrideCommand: z.boolean().optional(),
  shutdownAction: z.enum(["none", "stopContainer", "stopCompose"]).optional(),
  init: z.boolean().optional(),
  privileged: z.boolean().optional(),
  capAdd: stringArray.optional(),
  securityOpt: stringArray.optional(),

  // Ports
  appPort: z
    .union(
      [
        portNumber,
        z.string(),
        z.array(z.union([portNumber, z.string()], { error: "expected a port number or a string" })),
      ],
      {
        error: "expected a port, a string, or an array of them",
      },
    )
    .optional(),
  forwardPorts: z
    .array(
      z.union([portNumber, z.string().regex(/^([a-z0-9-]+):(\d{1,5})$/, { error: 'expected "host:port"' })], {
        error: 'expected a port number (0-65535) or "host:port"',
      }),
    )
    .optional(),
  portsAttributes: z.record(z.string(), portAttributesSchema).optional(),
  otherPortsAttributes: portAttributesSchema.optional(),

  // Features
  features: z.record(z.string(), z.unknown()).optional(),
  overrideFeatureInstallOrder: stringArray.optional(),

  // Host
  hostRequirements: z
    .strictObject({
      cpus: z.number().int().min(1).optional(),
      memory: specSizeSchema.optional(),
      storage: specSizeSchema.optional(),
      gpu: gpuSchema.optional(),
    })
    .optional(),

  // Lifecycle
  initializeCommand: commandSchema.optional(),
  onCreateCommand: commandSchema.optional(),
  updateContentCommand: commandSchema.optional(),
  postCreateCommand: commandSchema.optional(),
  postStartCommand: commandSchema.optional(),
  postAttachCommand: commandSchema.optional(),
  waitFor: z
    .enum([
      "initializeCommand",
      "onCreateCommand",
      "updateContentCommand",
      "postCreateCommand",
      "postStartCommand",
    ])
    .optional(),

  secrets: z
    .record(
      z
        .string()
        .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, { error: "secret names must be environment variable names" }),
      z.strictObject({ description: z.string().optional(), documentationUrl: z.string().optional() }),
    )
    .optional(),
  customizations: z.looseObject({ styrolite: styroliteSchema.optional() }).optional(),
});

/** A validated devcontainer.json (unknown properties removed; they were reported as warnings). */
export type DevcontainerConfig = z.infer<typeof devcontainerSchema>;

/** A lifecycle command as written. */
export type LifecycleCommand = z.infer<typeof commandSchema>;

/** Per-port attributes (`portsAttributes` values, `otherPortsAttributes`). */
export type PortAttributes = z.infer<typeof portAttributesSchema>;

/** Every property the schema knows, for the property table and unknown-key checks. */
export const knownProperties: readonly string[] = Object.keys(devcontainerSchema.shape);

/** Properties that older devcontainer.json files used and the spec has since moved. */
export const legacyProperties: Readonly<Record<string, string>> = {
  settings: "a legacy VS Code property; it now lives under customizations.vscode.settings",
  extensions: "a legacy VS Code property; it now lives under customizations.vscode.extensions",
  devPort: "a legacy VS Code property (the VS Code server port); no longer used",
};
