import * as z from "zod";

/**
 * `customizations.styrolite` in devcontainer.json: the zone-specific settings, kept where the
 * spec puts tool settings. Every key is optional; absent keys take the host's defaults.
 * The JSON schema published for editors (`styrolite.schema.json` next to this file) is generated
 * from this zod schema; a unit test fails when it is stale.
 */

const imageReference = z
  .string()
  .min(1)
  .max(1024)
  .describe("An OCI image reference, e.g. ghcr.io/org/zone-kernel:6.12 or registry/name@sha256:…");

/** A size: a number is MiB; a string needs a unit (kb, mb, gb, tb; powers of 1024). */
export const sizeSchema = z.union([
  z.number().int().min(1).describe("MiB"),
  z
    .string()
    .regex(/^\d+(kb|mb|gb|tb)$/, { error: 'expected a size with a unit, e.g. "512mb" or "8gb"' })
    .describe('A size with a unit: "512mb", "8gb" (powers of 1024)'),
]);

const absolutePath = z.string().regex(/^\//, { error: "expected an absolute path" });

const kernelSchema = z
  .strictObject({
    image: imageReference
      .optional()
      .describe("OCI image holding the zone's kernel (pulled as a tar image). Default: the host's kernel."),
    initrd: imageReference
      .optional()
      .describe("OCI image holding the zone's initrd. Default: the host's initrd."),
    cmdline: z
      .array(z.string())
      .optional()
      .describe("Kernel command line arguments, replacing the host's default list."),
    cmdlineAppend: z.string().optional().describe("Text appended to the kernel command line."),
    verbose: z.boolean().optional().describe("Boot the zone kernel with verbose console output."),
    modules: z.array(z.string().min(1)).optional().describe("Kernel modules to load in the zone."),
    sysctls: z
      .record(z.string().min(1), z.string())
      .optional()
      .describe("Sysctl settings applied in the zone kernel."),
  })
  .describe("The zone's kernel.");

const resourcesSchema = z
  .strictObject({
    targetCpus: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("vCPUs the zone starts with. Default: hostRequirements.cpus, else 2."),
    minCpus: z.number().int().min(1).optional().describe("Fewest vCPUs a dynamic zone may shrink to."),
    maxCpus: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("Most vCPUs the zone may grow to. Default: the target."),
    targetMemory: sizeSchema
      .optional()
      .describe("Memory the zone starts with. Default: hostRequirements.memory, else 2gb."),
    minMemory: sizeSchema.optional().describe("Least memory a dynamic zone may shrink to."),
    maxMemory: sizeSchema.optional().describe("Most memory the zone may grow to. Default: the target."),
    adjustmentPolicy: z
      .enum(["static", "dynamic"])
      .optional()
      .describe("static: resources stay at the target; dynamic: the host may move them between min and max."),
  })
  .describe("Zone CPUs and memory. hostRequirements.cpus/memory set the target when these do not.");

const networkSchema = z
  .strictObject({
    backend: z
      .enum(["default", "none", "external", "passthrough"])
      .optional()
      .describe("How the zone is networked. none: no network (port forwards then need DialNetworkSocket)."),
    nameservers: z.array(z.string().min(1)).optional().describe("DNS servers for the zone."),
    searches: z.array(z.string().min(1)).optional().describe("DNS search domains."),
    dnsOptions: z.array(z.string().min(1)).optional().describe("resolv.conf options."),
    reservation: z
      .string()
      .min(1)
      .optional()
      .describe("An existing network reservation (uuid) the zone assumes."),
    retainReservation: z.boolean().optional().describe("Keep the reservation when the zone is destroyed."),
  })
  .describe("Zone networking.");

const scratchDiskSchema = z
  .union(
    [
      z.strictObject({ size: sizeSchema.describe("Size of a scratch disk image created for the zone.") }),
      z.strictObject({
        path: absolutePath.describe("Host path of an existing block device or file."),
        device: z.string().min(1).describe("Device name the zone sees."),
      }),
    ],
    { error: 'expected { "size": "10gb" } or { "path": "/dev/…", "device": "…" }' },
  )
  .describe("A scratch disk for the zone: a new image of a size, or a static block device on the host.");

const hostSchema = z
  .strictObject({
    socket: absolutePath
      .optional()
      .describe("Path of the control socket on the host. Default: /var/lib/edera/protect/daemon.socket."),
    bridge: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        "Command (argv, no shell) run on the host to reach the socket when the SSH user cannot open it; {socket} is replaced by the socket path. Default: sudo -n socat - UNIX-CONNECT:{socket}. Used only for a trusted workspace.",
      ),
  })
  .describe("How to reach the host's control API.");

const buildSchema = z
  .strictObject({
    builder: z
      .enum(["auto", "buildah", "podman", "docker"])
      .optional()
      .describe(
        "Builder for features and Dockerfiles on this machine. Default: auto (buildah, then podman, then docker); the zones.build.builder setting and zonectl up --builder override it.",
      ),
    push: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)*$/, {
        error: "expected a registry (host[:port][/path])",
      })
      .optional()
      .describe(
        "Registry the built image is pushed to and the host pulls from (layers it has are not sent again), instead of sending the whole image with ImportImage. zonectl up --push overrides it.",
      ),
  })
  .describe("How images with features or from a Dockerfile are built and reach the host.");

/** The zod schema of `customizations.styrolite`. */
export const styroliteSchema = z
  .strictObject({
    kernel: kernelSchema.optional(),
    resources: resourcesSchema.optional(),
    devices: z
      .array(z.string().min(1))
      .optional()
      .describe("Host devices (names from ListDevices) passed through to the zone, e.g. a GPU."),
    network: networkSchema.optional(),
    virtualization: z
      .enum(["automatic", "pv", "pvh"])
      .optional()
      .describe("Virtualization mode of the zone. Default: automatic (the host decides)."),
    scratchDisk: scratchDiskSchema.optional(),
    annotations: z
      .record(z.string().min(1), z.string())
      .optional()
      .describe(
        "Annotations added to the zone and the workload (keys under zones.styrolite.dev/ are reserved).",
      ),
    imageFormat: z
      .enum(["squashfs", "erofs", "tar", "directory"])
      .optional()
      .describe("Format the host stores the workload image in. Default: squashfs."),
    workspaceRoot: absolutePath
      .optional()
      .describe(
        "Folder on the host under which synced workspaces live (one subfolder per devcontainer id). Default: /var/lib/styrolite-zones/workspaces.",
      ),
    host: hostSchema.optional(),
    build: buildSchema.optional(),
  })
  .describe("Styrolite Zones: settings for the Edera zone a devcontainer runs in.");

/** `customizations.styrolite` after validation. */
export type StyroliteCustomizations = z.infer<typeof styroliteSchema>;

/**
 * The JSON schema for editors, shaped to apply to a whole devcontainer.json: it only describes
 * `customizations.styrolite` and leaves every other property alone, so VS Code can combine it
 * with the devcontainer.json schema it already knows (`jsonValidation` in the manifest).
 */
export function styroliteJsonSchema(): Record<string, unknown> {
  const inner = z.toJSONSchema(styroliteSchema, { target: "draft-7", io: "input" }) as Record<
    string,
    unknown
  >;
  const { $schema: _drop, ...styrolite } = inner;
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "Styrolite Zones settings in devcontainer.json",
    type: "object",
    properties: {
      customizations: {
        type: "object",
        properties: { styrolite: styrolite },
      },
    },
  };
}
