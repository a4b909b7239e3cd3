// Runs a MicroPython script on real MicroPython (the WebAssembly port from npm, in Node),
// with the board's firmware files on its filesystem: node tests/micropython/run.mjs script.py
// The port has no sockets, so umqtt.simple is a stand-in whose connect() fails (a broker
// that is away); everything else is the firmware as a board runs it.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const board = ["__init__.py", "node_runtime.py", "flash_queue.py", "node_types.py"];
const umqtt = [
  "class MQTTClient:",
  "    def __init__(self, *args, **kwargs):",
  "        pass",
  "    def set_callback(self, f):",
  "        pass",
  "    def set_last_will(self, *args, **kwargs):",
  "        pass",
  "    def connect(self, clean_session=True):",
  "        raise OSError(113)  # EHOSTUNREACH",
  "    def close(self):",
  "        pass",
  "",
].join("\n");

const mp = await loadMicroPython({
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
});
for (const dir of ["/lib", "/lib/firmware_stubs", "/lib/umqtt", "/state"]) mp.FS.mkdir(dir);
for (const name of board) {
  mp.FS.writeFile(`/lib/firmware_stubs/${name}`, readFileSync(join(repo, "firmware_stubs", name)));
}
mp.FS.writeFile("/lib/umqtt/__init__.py", "");
mp.FS.writeFile("/lib/umqtt/simple.py", umqtt);
const script = readFileSync(process.argv[2], "utf8");
try {
  mp.runPython(`import sys\nsys.path.append("/lib")\n` + script);
} catch (error) {
  console.error(String(error.message ?? error).split("\n").slice(0, 20).join("\n"));
  process.exit(1);
}
