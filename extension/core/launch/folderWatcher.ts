import { watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import type { DisposableLike } from "../lifecycle";

/**
 * Watches a folder and everything below it (Node's recursive fs.watch) and reports changed
 * paths relative to it. The report says only "look here": a folder moved in arrives as one
 * event, a save as one or several; the consumer looks at the path when it gets to it.
 */
export function watchFolder(
  folder: string,
  onChange: (relativePath: string) => void,
  onError: (error: Error) => void,
): DisposableLike {
  let watcher: FSWatcher | undefined = watch(folder, { recursive: true }, (_event, name) => {
    if (name) onChange(name.toString());
  });
  watcher.on("error", (err) => onError(err));
  return {
    dispose: () => {
      watcher?.close();
      watcher = undefined;
    },
  };
}
