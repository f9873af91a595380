// Child process for the resume test: writes part of a sync, prints its id, then SIGKILLs itself (no close,
// no save) — what a crash or `kill -9` mid-sync leaves behind. Usage: kill-mid-sync.ts <c1z file>
import { SyncStore } from "../../../src/store/store.ts";
import { sampleObjects } from "../fixtures.ts";

const store = await SyncStore.openForSync(process.argv[2]);
const syncId = store.startSync();
const o = sampleObjects();
store.putResourceTypes(syncId, o.resourceTypes);
store.putResources(syncId, o.resources);
store.setSyncToken(syncId, JSON.stringify({ step: "entitlements", page: "" }));
process.stdout.write(syncId + "\n", () => process.kill(process.pid, "SIGKILL"));
