// The sync-race tests (test/harness/syncRaces.ts) over a real OpenSSH sshd's SFTP. SFTP cannot
// pin a directory, so here the guarantee is the narrower one: a directory the zone turned into a
// link before a call is never followed (each failed before the per-component check).
import { after, before } from "node:test";
import { SftpHostFiles } from "../../../extension/core/launch/sftpFiles";
import { SshConnection } from "../../../extension/core/ssh/connection";
import { startSshd } from "../../harness/sshd";
import type { Sshd } from "../../harness/sshd";
import { syncRaceTests } from "../../harness/syncRaces";

let sshd: Sshd;
const connections: SshConnection[] = [];

before(async () => {
  sshd = await startSshd();
});

after(async () => {
  for (const c of connections) c.close();
  await sshd?.stop();
});

syncRaceTests("sftp", async () => {
  const ssh = await SshConnection.connect(sshd.alias, {
    configFile: sshd.sshConfigPath,
    env: {},
    homedir: sshd.dir,
  });
  connections.push(ssh);
  return SftpHostFiles.open(ssh);
});
