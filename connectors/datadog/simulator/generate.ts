/**
 * Deterministic org generator: the same seed and counts give the same org, id for id, on every machine.
 * Each part of the org draws from its own seeded stream, and timestamps come from a fixed epoch, never the clock.
 * Sized for the benchmark (20,000 users, 500 teams, 200 roles, 100 schedules, 2,000 API keys, > 100,000 grants)
 * in well under a second.
 */
import { IndexedList } from "./indexed-list.ts";
import {
  LOGIN_METHODS,
  Org,
  type PolicyTarget,
  type SchedulePosition,
  type SimApiKey,
  type SimAppKey,
  type SimLayer,
  type SimPermission,
  type SimPolicy,
  type SimPolicyStep,
  type SimRole,
  type SimRoutingRule,
  type SimSchedule,
  type SimTeam,
  type SimUser,
  type UserStatus,
} from "./model.ts";
import { flat, Prng, stream } from "./prng.ts";
import { DEFAULT_COUNTS } from "./settings.ts";

export interface OrgCounts {
  /** All users, service accounts included. */
  users: number;
  teams: number;
  roles: number;
  /** On-call schedules; all of them are reachable from some team's routing rules (needs teams >= 1). */
  schedules: number;
  apiKeys: number;
  appKeys: number;
  /** How many of `users` are service accounts. */
  serviceAccounts: number;
  /** SAML AuthN mappings (half grant roles, half teams; none unless asked for, so other orgs stay as they were). */
  authnMappings?: number;
}

/** Upper bounds that keep a typo from asking for a multi-gigabyte org. */
const MAX_COUNTS: Readonly<Required<OrgCounts>> = {
  users: 1_000_000,
  teams: 50_000,
  roles: 10_000,
  schedules: 20_000,
  apiKeys: 200_000,
  appKeys: 200_000,
  serviceAccounts: 1_000_000,
  authnMappings: 10_000,
};

export function resolveCounts(partial: Partial<OrgCounts> = {}): OrgCounts {
  const counts: OrgCounts = { ...DEFAULT_COUNTS };
  for (const [key, value] of Object.entries(partial) as [keyof OrgCounts, number | undefined][]) {
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 0 || value > MAX_COUNTS[key]) {
      throw new RangeError(`org count "${key}" must be an integer between 0 and ${MAX_COUNTS[key]}, got ${value}`);
    }
    counts[key] = value;
  }
  if (partial.serviceAccounts === undefined) {
    counts.serviceAccounts = Math.min(counts.serviceAccounts, Math.floor(counts.users / 10));
  }
  if (counts.serviceAccounts > counts.users) {
    throw new RangeError(`serviceAccounts (${counts.serviceAccounts}) cannot exceed users (${counts.users})`);
  }
  return counts;
}

const EPOCH_MS = Date.UTC(2022, 0, 1);
const SPAN_MS = 3 * 365 * 24 * 3600 * 1000;
const dateIn = (rng: Prng, from = EPOCH_MS, span = SPAN_MS): number => from + rng.int(Math.floor(span / 1000)) * 1000;

const FIRST = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "John", "Radia",
  "Tim", "Hedy", "Donald", "Katherine", "Edsger", "Shafi", "Leslie", "Sophie", "Niklaus", "Anita", "Bjarne",
  "Mary", "Guido", "Joan", "Yukihiro", "Lynn", "Rasmus", "Adele", "James", "Jean", "Brendan", "Evelyn", "Larry",
  "Carol", "Ward", "Susan", "Martin", "Lin", "Ravi"];
const LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen",
  "McCarthy", "Perlman", "Berners-Lee", "Lamarr", "Knuth", "Johnson", "Dijkstra", "Goldwasser", "Lamport",
  "Wilson", "Wirth", "Borg", "Stroustrup", "Keller", "van Rossum", "Clarke", "Matsumoto", "Conway", "Lerdorf",
  "Goldberg", "Gosling", "Sammet", "Eich", "Boyd", "Wall", "Shaw", "Cunningham", "Kare", "Fowler", "Qiu", "Sethi"];
const TITLES = ["Software Engineer", "SRE", "Engineering Manager", "Security Engineer", "Data Scientist",
  "Product Manager", "Support Engineer", "Platform Engineer"];
const WORDS = ["payments", "search", "checkout", "identity", "billing", "platform", "mobile", "storage",
  "network", "ingest", "metrics", "alerts", "frontend", "backend", "data", "security", "infra", "growth",
  "catalog", "ledger"];
const TEAM_ADJ = ["Blue", "Swift", "Quiet", "Bright", "Iron", "Silver", "Rapid", "Calm", "Bold", "Lucky"];
const ZONES = ["UTC", "America/New_York", "Europe/Paris", "Asia/Tokyo", "America/Los_Angeles", "Europe/Berlin"];
const STANDARD_ROLES = ["Datadog Admin Role", "Datadog Standard Role", "Datadog Read Only Role"];

/** Datadog permission names (facts from the public spec's permission lists), with their groups. */
const PERMISSION_CATALOG: readonly [name: string, group: string][] = [
  ["user_access_read", "Access Management"],
  ["user_access_invite", "Access Management"],
  ["user_access_manage", "Access Management"],
  ["service_account_write", "Access Management"],
  ["user_app_keys", "API and Application Keys"],
  ["org_app_keys_read", "API and Application Keys"],
  ["org_app_keys_write", "API and Application Keys"],
  ["api_keys_read", "API and Application Keys"],
  ["api_keys_write", "API and Application Keys"],
  ["api_keys_delete", "API and Application Keys"],
  ["teams_read", "Teams"],
  ["teams_manage", "Teams"],
  ["on_call_read", "On-Call"],
  ["on_call_write", "On-Call"],
  ["on_call_respond", "On-Call"],
  ["org_management", "Access Management"],
  ["dashboards_read", "Dashboards"],
  ["dashboards_write", "Dashboards"],
  ["monitors_read", "Monitors"],
  ["monitors_write", "Monitors"],
  ["monitors_downtime", "Monitors"],
  ["metrics_read", "Metrics"],
  ["timeseries_query", "Metrics"],
  ["events_read", "Events"],
  ["hosts_read", "Infrastructure"],
  ["incident_read", "Case and Incident Management"],
  ["incident_write", "Case and Incident Management"],
  ["slos_read", "Service Level Objectives"],
  ["slos_write", "Service Level Objectives"],
  ["synthetics_read", "Synthetic Monitoring"],
  ["synthetics_write", "Synthetic Monitoring"],
  ["usage_read", "Billing and Usage"],
  ["billing_read", "Billing and Usage"],
];

/** Permissions are global in Datadog, so their ids do not depend on the seed. */
function buildPermissions(): SimPermission[] {
  const rng = new Prng(0x5eed);
  return PERMISSION_CATALOG.map(([name, groupName]) => ({
    id: rng.uuid(),
    name,
    displayName: name
      .split("_")
      .map((w) => w[0].toUpperCase() + w.slice(1))
      .join(" "),
    groupName,
    displayType: name.endsWith("_read") ? "read" : name.endsWith("_write") || name.endsWith("_manage") ? "write" : "other",
    created: Date.UTC(2018, 9, 1),
    restricted: false,
  }));
}

export function generateOrg(seed = 1, partialCounts: Partial<OrgCounts> = {}, orgUuid?: string): Org {
  const counts = resolveCounts(partialCounts);
  const org = new Org({
    uuid: orgUuid ?? stream(seed, "org").uuid(),
    name: `Simulated Org ${seed}`,
    publicId: stream(seed, "org-public").hex(12),
    permissions: buildPermissions(),
  });
  const users = generateUsers(org, seed, counts);
  const roles = generateRoles(org, seed, counts);
  assignRoles(seed, users, roles);
  const teams = generateTeams(org, seed, counts);
  assignTeams(seed, users, teams);
  generateOnCall(org, seed, counts, users, teams);
  generateApiKeys(org, seed, counts, users);
  generateAppKeys(org, seed, counts, users);
  generateAuthnMappings(org, seed, counts, roles, teams);
  return org;
}

/** Mappings of IdP groups to roles and teams, from their own stream (the rest of the org is unchanged by them). */
function generateAuthnMappings(org: Org, seed: number, counts: OrgCounts, roles: SimRole[], teams: SimTeam[]): void {
  const rng = stream(seed, "authn-mappings");
  for (let i = 0; i < (counts.authnMappings ?? 0); i++) {
    const toTeam = teams.length > 0 && (i % 2 === 1 || roles.length === 0);
    if (!toTeam && roles.length === 0) break;
    const id = rng.uuid();
    const group = `${rng.pick(WORDS)}-${rng.pick(["engineers", "oncall", "admins", "readers"])}`;
    const createdAt = dateIn(rng);
    if (toTeam) org.addAuthnMapping({ id, attributeKey: "member-of", attributeValue: group, teamId: rng.pick(teams).id, createdAt });
    // The first mapping grants the first role (Datadog Admin Role in orgs with the standard roles).
    else org.addAuthnMapping({ id, attributeKey: "member-of", attributeValue: group, roleId: (i === 0 ? roles[0] : rng.pick(roles)).id, createdAt });
  }
}

function generateUsers(org: Org, seed: number, counts: OrgCounts): SimUser[] {
  const rng = stream(seed, "users");
  const serviceSlots = new Set<number>();
  for (let j = 0; j < counts.serviceAccounts; j++) {
    serviceSlots.add(Math.min(counts.users - 1, Math.floor(((j + 0.5) * counts.users) / counts.serviceAccounts)));
  }
  // Collisions of the spread formula (only when nearly everyone is a service account) are filled from the end.
  for (let i = counts.users - 1; serviceSlots.size < counts.serviceAccounts; i--) serviceSlots.add(i);

  // Own stream, so that adding the field left every other drawn value as it was.
  const logins = stream(seed, "login-methods");
  const users: SimUser[] = [];
  let humans = 0;
  for (let i = 0; i < counts.users; i++) {
    const id = rng.uuid();
    const createdMs = dateIn(rng);
    const serviceAccount = serviceSlots.has(i);
    let user: SimUser;
    if (serviceAccount) {
      const word = rng.pick(WORDS);
      const email = flat(`${word}-bot-${i}@service.example.com`);
      user = {
        id,
        name: flat(`${word[0].toUpperCase()}${word.slice(1)} Automation ${i}`),
        email,
        handle: email,
        title: null,
        status: "Active",
        disabled: false,
        verified: true,
        serviceAccount: true,
        mfaEnabled: false,
        allowedLoginMethods: LOGIN_METHODS.none,
        createdAt: createdMs,
        modifiedAt: createdMs,
        lastLoginTime: null,
        roles: [],
      };
    } else {
      // The first humans cover every status so that even a tiny org shows each one.
      const status: UserStatus =
        humans === 2 ? "Pending" : humans === 3 ? "Disabled" : humans < 2 ? "Active" : pickStatus(rng);
      humans++;
      const first = rng.pick(FIRST);
      const last = rng.pick(LAST);
      const email = flat(`${first}.${last.replace(/[^A-Za-z]/g, "")}.${i}@example.com`.toLowerCase());
      const active = status === "Active";
      const lastLogin = status === "Pending" ? null : rng.chance(0.9) ? dateIn(rng, createdMs, EPOCH_MS + SPAN_MS - createdMs + 1000) : null;
      user = {
        id,
        name: status === "Pending" && rng.chance(0.5) ? null : flat(`${first} ${last}`),
        email,
        handle: email,
        title: rng.chance(0.6) ? rng.pick(TITLES) : null,
        status,
        disabled: status === "Disabled",
        verified: status !== "Pending",
        serviceAccount: false,
        mfaEnabled: active && rng.chance(0.4),
        allowedLoginMethods: pickLoginMethods(logins),
        createdAt: createdMs,
        modifiedAt: createdMs,
        lastLoginTime: lastLogin,
        roles: [],
      };
    }
    org.insertUser(user);
    users.push(user);
  }
  return users;
}

function pickLoginMethods(rng: Prng): readonly string[] {
  const x = rng.float();
  return x < 0.7 ? LOGIN_METHODS.default : x < 0.9 ? LOGIN_METHODS.sso : LOGIN_METHODS.any;
}

function pickStatus(rng: Prng): UserStatus {
  const x = rng.float();
  return x < 0.03 ? "Pending" : x < 0.08 ? "Disabled" : "Active";
}

function generateRoles(org: Org, seed: number, counts: OrgCounts): SimRole[] {
  const rng = stream(seed, "roles");
  const all = org.permissions;
  const roles: SimRole[] = [];
  for (let i = 0; i < counts.roles; i++) {
    let name: string;
    let permissions: SimPermission[];
    if (i < STANDARD_ROLES.length) {
      name = STANDARD_ROLES[i];
      permissions =
        i === 0
          ? [...all]
          : i === 1
            ? all.filter((p) => !["user_access_manage", "org_management", "org_app_keys_write"].includes(p.name))
            : all.filter((p) => p.displayType === "read");
    } else {
      const word = rng.pick(WORDS);
      name = `${word[0].toUpperCase()}${word.slice(1)} ${rng.pick(["Responders", "Operators", "Auditors", "Developers"])} ${String(i).padStart(3, "0")}`;
      const wanted = rng.range(2, 8);
      const chosen = new Set<SimPermission>();
      while (chosen.size < wanted) chosen.add(rng.pick(all));
      permissions = all.filter((p) => chosen.has(p));
    }
    const createdMs = i < STANDARD_ROLES.length ? Date.UTC(2019, 0, 1) : dateIn(rng);
    const role: SimRole = {
      id: rng.uuid(),
      name,
      createdAt: createdMs,
      modifiedAt: createdMs,
      permissions,
      users: new IndexedList(),
    };
    org.roles.set(role.id, role);
    roles.push(role);
  }
  return roles;
}

function assignRoles(seed: number, users: SimUser[], roles: SimRole[]): void {
  if (roles.length === 0) return;
  const rng = stream(seed, "role-members");
  const standard = roles.slice(0, Math.min(STANDARD_ROLES.length, roles.length));
  const custom = roles.slice(standard.length);
  const grant = (user: SimUser, role: SimRole): void => {
    if (role.users.has(user.id)) return;
    role.users.set(user.id, user);
    user.roles.push(role);
  };
  users.forEach((user, i) => {
    // User 0 administers the org, like the person who created the simulator's keys.
    const x = rng.float();
    const base = i === 0 ? 0 : user.serviceAccount ? (x < 0.5 ? 1 : 2) : x < 0.05 ? 0 : x < 0.75 ? 1 : 2;
    grant(user, standard[Math.min(base, standard.length - 1)]);
    if (custom.length > 0) {
      const extra = rng.int(3);
      for (let k = 0; k < extra; k++) grant(user, rng.pick(custom));
    }
  });
}

function generateTeams(org: Org, seed: number, counts: OrgCounts): SimTeam[] {
  const rng = stream(seed, "teams");
  const teams: SimTeam[] = [];
  for (let i = 0; i < counts.teams; i++) {
    const adj = rng.pick(TEAM_ADJ);
    const word = rng.pick(WORDS);
    const createdMs = dateIn(rng);
    const team: SimTeam = {
      id: rng.uuid(),
      name: `${adj} ${word[0].toUpperCase()}${word.slice(1)} ${i}`,
      handle: `${adj.toLowerCase()}-${word}-${i}`,
      summary: rng.chance(0.7) ? `Owns ${word} services` : null,
      createdAt: createdMs,
      modifiedAt: createdMs,
      linkCount: rng.int(4),
      members: new IndexedList(),
      routingRules: [],
    };
    org.teams.set(team.id, team);
    teams.push(team);
  }
  return teams;
}

function assignTeams(seed: number, users: SimUser[], teams: SimTeam[]): void {
  if (teams.length === 0) return;
  const rng = stream(seed, "team-members");
  // Who made each membership comes from its own stream, so the memberships themselves are as before.
  const provisioning = stream(seed, "team-provisioning");
  const automations = users.filter((u) => u.serviceAccount);
  for (const user of users) {
    const wanted = Math.min(teams.length, user.serviceAccount ? rng.int(2) : rng.int(7));
    let placed = 0;
    while (placed < wanted) {
      const team = teams[rng.int(teams.length)];
      if (team.members.has(user.id)) continue;
      const role = rng.chance(0.1) ? "admin" : null;
      const x = provisioning.float();
      const bot = automations.length > 0 && x < 0.1 ? automations[provisioning.int(automations.length)] : undefined;
      team.members.set(user.id, {
        user,
        role,
        provisionedBy: bot ? "service_account" : x >= 0.9 ? "saml_mapping" : null,
        // A person's membership names who added it (the org's first user, its administrator); SAML names nobody.
        provisionedById: bot ? bot.id : x >= 0.9 ? null : users[0].id,
      });
      placed++;
    }
  }
}

/**
 * On-call: schedules sit in escalation policy steps, policies are referenced by team routing rules. That is the
 * only path the API offers to find schedules (there is no list-all operation), so every schedule is placed in
 * exactly one policy owned by a team.
 */
function generateOnCall(org: Org, seed: number, counts: OrgCounts, users: SimUser[], teams: SimTeam[]): void {
  if (teams.length === 0) return;
  const rng = stream(seed, "on-call");
  const responders = users.filter((u) => !u.serviceAccount && u.status === "Active");
  const pool = responders.length > 0 ? responders : users;
  const policyCount = Math.max(1, Math.ceil(counts.schedules / 2));
  const owners = Array.from({ length: policyCount }, () => teams[rng.int(teams.length)]);
  const policyTeams = owners.map((owner) => {
    const extra = teams.length > 1 && rng.chance(0.2) ? teams[rng.int(teams.length)] : owner;
    return extra === owner ? [owner] : [owner, extra];
  });

  // Schedule ids are UUIDs, as real ones; they come from their own stream. A short public id is still drawn (and
  // dropped) so that every other on-call value stays what it was.
  const scheduleIds = stream(seed, "schedule-ids");
  const usedIds = new Set<string>();
  const schedulesByPolicy: SimSchedule[][] = Array.from({ length: policyCount }, () => []);
  for (let s = 0; s < counts.schedules; s++) {
    let legacy = rng.publicId();
    while (usedIds.has(legacy)) legacy = rng.publicId();
    usedIds.add(legacy);
    const id = scheduleIds.uuid();
    const layers: SimLayer[] = [];
    const layerCount = rng.range(1, 3);
    for (let l = 0; l < layerCount; l++) {
      const start = dateIn(rng);
      const members =
        pool.length === 0
          ? []
          : Array.from({ length: rng.range(1, 5) }, () => ({ id: rng.uuid(), user: pool[rng.int(pool.length)] }));
      layers.push({
        id: rng.uuid(),
        name: `Layer ${l + 1}`,
        effectiveDate: start,
        rotationStart: start,
        intervalDays: rng.pick([1, 7, 14]),
        members,
      });
    }
    const p = s % policyCount;
    const schedule: SimSchedule = {
      id,
      name: `${rng.pick(WORDS)} on-call ${s}`,
      timeZone: rng.pick(ZONES),
      layers,
      teams: policyTeams[p],
    };
    org.schedules.set(schedule.id, schedule);
    schedulesByPolicy[p].push(schedule);
  }

  const policies: SimPolicy[] = [];
  let placed = 0;
  for (let p = 0; p < policyCount; p++) {
    const stepCount = rng.range(1, 3);
    const targets: PolicyTarget[][] = Array.from({ length: stepCount }, () => []);
    schedulesByPolicy[p].forEach((schedule, k) => {
      // Every third schedule is reached through a configured target ("schedule_target") instead of directly.
      const target: PolicyTarget =
        placed++ % 3 === 2
          ? { kind: "configured-schedule", schedule, position: rng.pick<SchedulePosition>(["previous", "current", "next"]) }
          : { kind: "schedule", schedule };
      targets[k % stepCount].push(target);
    });
    if (pool.length > 0 && rng.chance(0.5)) targets[0].push({ kind: "user", user: pool[rng.int(pool.length)] });
    if (rng.chance(0.4)) targets[stepCount - 1].push({ kind: "team", team: owners[p] });
    // The first policy targets every kind (a schedule, a "previous" configured schedule, a user, a team), as a
    // real org's do, so that even a small org shows each; drawn from a stream of its own.
    if (p === 0) ensureEveryTargetKind(targets, schedulesByPolicy[p], pool, owners[p], stream(seed, "on-call-targets"));
    const steps: SimPolicyStep[] = targets.map((t) => ({
      id: rng.uuid(),
      escalateAfterSeconds: rng.pick([300, 900, 1800, 3600]),
      assignment: rng.chance(0.8) ? "default" : "round-robin",
      targets: t,
    }));
    const policy: SimPolicy = {
      id: rng.uuid(),
      name: `${owners[p].name} escalation ${p}`,
      retries: rng.int(3),
      resolvePageOnPolicyEnd: rng.chance(0.5),
      steps,
      teams: policyTeams[p],
    };
    org.policies.set(policy.id, policy);
    policies.push(policy);
  }

  const rule = (policy: SimPolicy | null): SimRoutingRule => ({
    id: rng.uuid(),
    query: policy ? `tags.service:${rng.pick(WORDS)}` : "",
    urgency: rng.pick(["low", "high", "dynamic"] as const),
    policy,
    slackChannel: policy ? null : `#${rng.pick(WORDS)}-alerts`,
    timeRestriction: rng.chance(0.2)
      ? { timeZone: rng.pick(ZONES), startDay: "monday", endDay: "friday" }
      : null,
  });
  policies.forEach((policy, p) => {
    owners[p].routingRules.push(rule(policy));
    // Some policies are shared by a second team: discovery must deduplicate them.
    if (teams.length > 1 && p % 4 === 1) {
      const other = teams[(teams.indexOf(owners[p]) + 1) % teams.length];
      other.routingRules.push(rule(policy));
    }
  });
  teams.forEach((team, t) => {
    if (t % 5 === 0) team.routingRules.push(rule(null));
  });
}

function ensureEveryTargetKind(targets: PolicyTarget[][], schedules: SimSchedule[], pool: SimUser[], team: SimTeam, rng: Prng): void {
  const all = targets.flat();
  const first = targets[0];
  const last = targets[targets.length - 1];
  const schedule = schedules[0];
  if (schedule && !all.some((t) => t.kind === "configured-schedule" && t.position === "previous")) {
    first.push({ kind: "configured-schedule", schedule, position: "previous" });
  }
  if (pool.length > 0 && !all.some((t) => t.kind === "user")) first.push({ kind: "user", user: pool[rng.int(pool.length)] });
  if (!all.some((t) => t.kind === "team")) last.push({ kind: "team", team });
}

function generateApiKeys(org: Org, seed: number, counts: OrgCounts, users: SimUser[]): void {
  const rng = stream(seed, "api-keys");
  const usage = stream(seed, "api-key-usage");
  const creators = users.filter((u) => u.status === "Active");
  if (creators.length === 0 && counts.apiKeys > 0) throw new RangeError("API keys need at least one user");
  for (let i = 0; i < counts.apiKeys; i++) {
    const key = rng.hex(32);
    const createdMs = dateIn(rng);
    const createdBy = creators[rng.int(creators.length)];
    // Drawn in the order they always were (id, name, last use), so that every key is as before.
    const id = rng.uuid();
    const name = `${rng.pick(WORDS)}-${rng.pick(["prod", "staging", "dev"])}-${i}`;
    const dateLastUsed = rng.chance(0.8) ? dateIn(rng, createdMs, EPOCH_MS + SPAN_MS - createdMs + 1000) : null;
    const apiKey: SimApiKey = {
      id,
      name,
      key,
      createdAt: createdMs,
      modifiedAt: createdMs,
      dateLastUsed,
      legacyLastUsed: usage.chance(0.6),
      usedInLast24Hours: usage.chance(0.2) && dateLastUsed !== null,
      createdBy,
      category: "default",
      remoteConfigReadEnabled: rng.chance(0.3),
    };
    org.apiKeys.set(apiKey.id, apiKey);
  }
}

function generateAppKeys(org: Org, seed: number, counts: OrgCounts, users: SimUser[]): void {
  const rng = stream(seed, "app-keys");
  const serviceAccounts = users.filter((u) => u.serviceAccount);
  const owners = users.filter((u) => u.status === "Active");
  if (owners.length === 0 && counts.appKeys > 0) throw new RangeError("application keys need at least one user");
  const scopeNames = org.permissions.map((p) => p.name);
  for (let i = 0; i < counts.appKeys; i++) {
    // Every service account gets a key first, so rotation tests always have one to rotate.
    const owner = i < serviceAccounts.length ? serviceAccounts[i] : owners[rng.int(owners.length)];
    const createdMs = dateIn(rng);
    let scopes: string[] | null = null;
    if (rng.chance(0.4)) {
      const wanted = rng.range(1, 4);
      const chosen = new Set<string>();
      while (chosen.size < wanted) chosen.add(rng.pick(scopeNames));
      scopes = scopeNames.filter((s) => chosen.has(s));
    }
    const appKey: SimAppKey = {
      id: rng.uuid(),
      name: `${owner.serviceAccount ? "automation" : "personal"}-${rng.pick(WORDS)}-${i}`,
      last4: rng.hex(4),
      createdAt: createdMs,
      lastUsedAt: rng.chance(0.7) ? dateIn(rng, createdMs, EPOCH_MS + SPAN_MS - createdMs + 1000) : null,
      scopes,
      owner,
    };
    org.appKeys.set(appKey.id, appKey);
  }
}

export interface ExpectedCounts {
  users: number;
  serviceAccounts: number;
  pendingUsers: number;
  disabledUsers: number;
  roles: number;
  permissions: number;
  teams: number;
  /** Schedules reachable through team routing rules → escalation policies (the only discovery path). */
  schedules: number;
  apiKeys: number;
  appKeys: number;
  /** (role, user) pairs. */
  roleMemberships: number;
  /** (team, user) memberships; admins included. */
  teamMembers: number;
  teamAdmins: number;
  /** Distinct (schedule, user) pairs over all layers. */
  scheduleMembers: number;
  /** roleMemberships + teamMembers + teamAdmins + scheduleMembers: the grants a full sync yields. */
  grants: number;
}

/** The counts a correct full sync of `org` must find, computed from the current (possibly modified) state. */
export function expectedCounts(org: Org): ExpectedCounts {
  let serviceAccounts = 0;
  let pendingUsers = 0;
  let disabledUsers = 0;
  for (const user of org.users) {
    if (user.serviceAccount) serviceAccounts++;
    if (user.status === "Pending") pendingUsers++;
    if (user.disabled) disabledUsers++;
  }
  let roleMemberships = 0;
  for (const role of org.roles) roleMemberships += role.users.size;
  let teamMembers = 0;
  let teamAdmins = 0;
  for (const team of org.teams) {
    teamMembers += team.members.size;
    for (const m of team.members) if (m.role === "admin") teamAdmins++;
  }
  const reachable = reachableSchedules(org);
  let scheduleMembers = 0;
  for (const schedule of reachable) {
    const distinct = new Set<string>();
    for (const layer of schedule.layers) for (const m of layer.members) distinct.add(m.user.id);
    scheduleMembers += distinct.size;
  }
  return {
    users: org.users.size,
    serviceAccounts,
    pendingUsers,
    disabledUsers,
    roles: org.roles.size,
    permissions: org.permissions.length,
    teams: org.teams.size,
    schedules: reachable.size,
    apiKeys: org.apiKeys.size,
    appKeys: org.appKeys.size,
    roleMemberships,
    teamMembers,
    teamAdmins,
    scheduleMembers,
    grants: roleMemberships + teamMembers + teamAdmins + scheduleMembers,
  };
}

/** Follows the documented discovery path over the in-memory org: teams → routing rules → policies → targets. */
export function reachableSchedules(org: Org): Set<SimSchedule> {
  const found = new Set<SimSchedule>();
  for (const team of org.teams) {
    for (const rule of team.routingRules) {
      for (const step of rule.policy?.steps ?? []) {
        for (const target of step.targets) {
          if (target.kind === "schedule" || target.kind === "configured-schedule") found.add(target.schedule);
        }
      }
    }
  }
  return found;
}
