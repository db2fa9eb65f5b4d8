// TODO(#3): the dev host's standalone entry point.
process.stderr.write("devhost: not built yet\n");
process.exitCode = 2;
