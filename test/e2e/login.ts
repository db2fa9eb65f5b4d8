/**
 * code-server is not an open door: before any spec runs, the e2e tier checks over plain HTTP, as
 * a web page that rebound its name to 127.0.0.1 would try, that the workbench is out of reach
 * without the password and that a wrong password sets no session.
 */
import assert from "node:assert/strict";
import type { CodeServer } from "../harness/codeServer";

export async function checkLogin(codeServer: CodeServer): Promise<void> {
  const workbench = await fetch(codeServer.folderUrl("/tmp"), { redirect: "manual" });
  assert.equal(workbench.status, 302, "the workbench without a session is a redirect");
  assert.match(workbench.headers.get("location") ?? "", /login/, "to the login page");

  const wrong = await fetch(`${codeServer.url}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ password: `${codeServer.password}x`, base: "/" }).toString(),
  });
  assert.equal(wrong.headers.get("set-cookie"), null, "a wrong password sets no cookie");
  assert.match(await wrong.text(), /Incorrect password/i);
}
