// Child process for the disk-full tests: runs one save under whatever `ulimit -f` the parent set and reports
// the outcome as one JSON line. Usage: write-c1z.ts file <db> <out> | store <c1z> <workDir>
import { writeC1zFromFile } from "../../../src/store/format.ts";
import { SyncStore } from "../../../src/store/store.ts";

const [mode, a, b] = process.argv.slice(2);
try {
  if (mode === "file") {
    await writeC1zFromFile(a, b);
  } else {
    const store = await SyncStore.openForSync(a, { workDir: b });
    try {
      await store.saveTo(a);
    } catch (err) {
      process.stdout.write(JSON.stringify({ ok: false, name: (err as Error).name, message: (err as Error).message, stillOpen: store.isOpen }) + "\n");
      store.close();
      process.exit(0);
    }
  }
  process.stdout.write(JSON.stringify({ ok: true }) + "\n");
} catch (err) {
  process.stdout.write(JSON.stringify({ ok: false, name: (err as Error).name, message: (err as Error).message }) + "\n");
}
