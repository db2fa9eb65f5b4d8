import { version } from "../../package.json";

/** What GetHostStatus reports as protect_version: plainly a dev host, not protect-daemon. */
export const devHostVersion = `devhost-${version}`;
