// The sync-race tests (test/harness/syncRaces.ts) on this machine's files. Each failed before the
// local implementation walked paths below the workspace copy without following links.
import { LocalHostFiles } from "../../../extension/core/launch/hostFiles";
import { syncRaceTests } from "../../harness/syncRaces";

syncRaceTests("local", async () => new LocalHostFiles());
