/**
 * Proxy settings from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY and their lower-case forms, lower case
 * first as curl and undici do). The same values are handed to undici's EnvHttpProxyAgent, and `proxyFor` answers
 * "did this request go through a proxy?" with the same NO_PROXY rules, so that failures can be blamed on the
 * proxy when it is the proxy's fault.
 */

export interface ProxySettings {
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
}

export function proxySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ProxySettings {
  const httpProxy = env.http_proxy ?? env.HTTP_PROXY ?? "";
  const httpsProxy = env.https_proxy ?? env.HTTPS_PROXY ?? httpProxy;
  const noProxy = env.no_proxy ?? env.NO_PROXY ?? "";
  return { httpProxy, httpsProxy, noProxy };
}

interface NoProxyEntry {
  hostname: string;
  port: number;
  wildcard: boolean;
}

function parseNoProxy(value: string): NoProxyEntry[] {
  const entries: NoProxyEntry[] = [];
  for (const raw of value.split(/[,\s]/)) {
    if (!raw) continue;
    let hostname: string;
    let port = 0;
    const v6 = /^\[(.+)\]:(\d+)$/.exec(raw);
    if (v6) {
      hostname = v6[1];
      port = Number.parseInt(v6[2], 10);
    } else {
      const unbracketed = raw.replace(/^\[(.+)\]$/, "$1");
      const colons = (unbracketed.match(/:/g) ?? []).length;
      const hp = colons === 1 ? /^(.+):(\d+)$/.exec(unbracketed) : null;
      hostname = hp ? hp[1] : unbracketed;
      port = hp ? Number.parseInt(hp[2], 10) : 0;
    }
    entries.push({
      hostname: hostname.replace(/^\*?\./, "").replace(/^(.+)\.$/, "$1").toLowerCase(),
      port,
      wildcard: raw.startsWith("*"),
    });
  }
  return entries;
}

/** The proxy URL used for `target`, or undefined when it is reached directly. */
export function proxyFor(target: URL, settings: ProxySettings): string | undefined {
  const proxy = target.protocol === "https:" ? settings.httpsProxy : settings.httpProxy;
  if (!proxy) return undefined;
  let hostname = target.hostname.replace(/^\[(.+)\]$/, "$1").toLowerCase();
  if (hostname.length > 1 && hostname.endsWith(".")) hostname = hostname.slice(0, -1);
  const port = Number.parseInt(target.port, 10) || (target.protocol === "https:" ? 443 : 80);
  for (const entry of parseNoProxy(settings.noProxy)) {
    if (entry.port && entry.port !== port) continue;
    if (entry.hostname === "*") return undefined;
    if (!entry.wildcard && hostname === entry.hostname) return undefined;
    if (hostname.endsWith(`.${entry.hostname}`)) return undefined;
  }
  return proxy;
}

/** A proxy URL safe to print: scheme, host and port only (user info and path dropped). */
export function describeProxy(proxy: string): string {
  try {
    const u = new URL(proxy);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "(unparseable proxy URL)";
  }
}
