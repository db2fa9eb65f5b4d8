// TODO(#2): zonectl commands (status, ls, rm, dev-host) replace this entry point.
process.stderr.write("zonectl: not built yet\n");
process.exitCode = 2;
