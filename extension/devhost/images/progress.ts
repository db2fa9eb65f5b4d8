import { create } from "@bufbuild/protobuf";
import {
  OciImageProgressLayerPhase,
  OciImageProgressPhase,
  OciImageProgressIndicationSchema,
  OciImageProgressSchema,
  type OciImageProgress,
  type OciImageProgressIndication,
} from "../../proto/gen/protect/control/v1/common_pb";

/** Receives each progress snapshot of a pull or import, already as the wire message. */
export type ProgressSink = (progress: OciImageProgress) => void;

/** An indication in plain form; `toIndication` turns it into the message. */
export type Indication =
  | {
      readonly kind: "bar";
      readonly message: string;
      readonly current: number;
      readonly total: number;
      readonly isBytes: boolean;
    }
  | { readonly kind: "spinner"; readonly message: string }
  | { readonly kind: "hidden" }
  | {
      readonly kind: "completed";
      readonly message: string;
      readonly total: number;
      readonly isBytes: boolean;
    };

interface LayerState {
  phase: OciImageProgressLayerPhase;
  indication: Indication;
  /** Compressed size, for the overall download bar. */
  size: number;
  downloaded: number;
}

/**
 * Tracks the state of one pull or import and sends snapshots (phase, every layer, an overall
 * indication) to a sink. Phase changes and layer state changes go out at once; byte counts are
 * throttled to one snapshot per `minIntervalMs` (100 ms: at most ten a second), so a fast
 * loopback download does not flood the stream.
 */
export class ImageProgress {
  readonly #sink: ProgressSink | undefined;
  readonly #minIntervalMs: number;
  readonly #now: () => number;
  readonly #layers = new Map<string, LayerState>();
  #phase = OciImageProgressPhase.UNKNOWN;
  #indication: Indication = { kind: "hidden" };
  #lastEmit = Number.NEGATIVE_INFINITY;

  constructor(sink: ProgressSink | undefined, options: { minIntervalMs?: number; now?: () => number } = {}) {
    this.#sink = sink;
    this.#minIntervalMs = options.minIntervalMs ?? 100;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Moves to a new overall phase and reports it. */
  phase(phase: OciImageProgressPhase, indication: Indication = { kind: "hidden" }): void {
    this.#phase = phase;
    this.#indication = indication;
    this.#emit();
  }

  /** Declares the layers (id = digest) in order, all WAITING. Reported with the next snapshot. */
  setLayers(layers: readonly { id: string; size: number }[]): void {
    this.#layers.clear();
    for (const l of layers) {
      this.#layers.set(l.id, {
        phase: OciImageProgressLayerPhase.WAITING,
        indication: { kind: "hidden" },
        size: l.size,
        downloaded: 0,
      });
    }
  }

  /** A layer's download advanced; throttled. */
  downloading(id: string, current: number): void {
    const layer = this.#layer(id);
    const first = layer.phase !== OciImageProgressLayerPhase.DOWNLOADING;
    layer.phase = OciImageProgressLayerPhase.DOWNLOADING;
    layer.downloaded = current;
    layer.indication = { kind: "bar", message: "downloading", current, total: layer.size, isBytes: true };
    this.#updateOverall();
    if (first) this.#emit();
    else this.#maybeEmit();
  }

  /** A layer's blob is complete and verified (or was already in the store). */
  downloaded(id: string, cached = false): void {
    const layer = this.#layer(id);
    layer.phase = OciImageProgressLayerPhase.DOWNLOADED;
    layer.downloaded = layer.size;
    layer.indication = {
      kind: "completed",
      message: cached ? "already present" : "downloaded",
      total: layer.size,
      isBytes: true,
    };
    this.#updateOverall();
    this.#emit();
  }

  /** A layer is being applied to the root filesystem; `current` counts compressed bytes read. */
  extracting(id: string, current: number): void {
    const layer = this.#layer(id);
    const first = layer.phase !== OciImageProgressLayerPhase.EXTRACTING;
    layer.phase = OciImageProgressLayerPhase.EXTRACTING;
    layer.indication = { kind: "bar", message: "extracting", current, total: layer.size, isBytes: true };
    if (first) this.#emit();
    else this.#maybeEmit();
  }

  /** A layer is applied. */
  extracted(id: string): void {
    const layer = this.#layer(id);
    layer.phase = OciImageProgressLayerPhase.EXTRACTED;
    layer.indication = { kind: "completed", message: "extracted", total: layer.size, isBytes: true };
    this.#emit();
  }

  /** Replaces the overall indication without changing phase; throttled. */
  indicate(indication: Indication): void {
    this.#indication = indication;
    this.#maybeEmit();
  }

  /** The current snapshot as a message. */
  snapshot(): OciImageProgress {
    return create(OciImageProgressSchema, {
      phase: this.#phase,
      layers: [...this.#layers].map(([id, l]) => ({
        id,
        phase: l.phase,
        indication: toIndication(l.indication),
      })),
      indication: toIndication(this.#indication),
    });
  }

  #layer(id: string): LayerState {
    const layer = this.#layers.get(id);
    if (!layer) throw new Error(`progress for unknown layer ${id}`);
    return layer;
  }

  #updateOverall(): void {
    if (this.#phase !== OciImageProgressPhase.LAYER_DOWNLOAD) return;
    let current = 0;
    let total = 0;
    for (const l of this.#layers.values()) {
      current += l.downloaded;
      total += l.size;
    }
    this.#indication = { kind: "bar", message: "downloading layers", current, total, isBytes: true };
  }

  #maybeEmit(): void {
    if (this.#now() - this.#lastEmit >= this.#minIntervalMs) this.#emit();
  }

  #emit(): void {
    this.#lastEmit = this.#now();
    this.#sink?.(this.snapshot());
  }
}

/** Builds the wire form of an indication. */
export function toIndication(i: Indication): OciImageProgressIndication {
  switch (i.kind) {
    case "bar":
      return create(OciImageProgressIndicationSchema, {
        indication: {
          case: "bar",
          value: {
            message: i.message,
            current: BigInt(i.current),
            total: BigInt(i.total),
            isBytes: i.isBytes,
          },
        },
      });
    case "spinner":
      return create(OciImageProgressIndicationSchema, {
        indication: { case: "spinner", value: { message: i.message } },
      });
    case "hidden":
      return create(OciImageProgressIndicationSchema, { indication: { case: "hidden", value: {} } });
    case "completed":
      return create(OciImageProgressIndicationSchema, {
        indication: {
          case: "completed",
          value: { message: i.message, total: BigInt(i.total), isBytes: i.isBytes },
        },
      });
  }
}
