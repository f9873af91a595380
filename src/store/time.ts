// Times in a c1z are text `YYYY-MM-DD hh:mm:ss.fffffffff` (PROTOCOL.md §2). We always write UTC with nine
// fraction digits so that plain string comparison orders them; JavaScript only has milliseconds, so the last
// six digits are zero.

const pad = (n: number, width: number): string => String(n).padStart(width, "0");

export function formatSqlTime(date: Date = new Date()): string {
  if (Number.isNaN(date.getTime())) throw new RangeError("formatSqlTime: invalid date");
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)} ` +
    `${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}.` +
    `${pad(date.getUTCMilliseconds(), 3)}000000`
  );
}

// Files written by Go trim trailing fraction zeros (layout `.999999999`) and may carry an offset; accept both.
const SQL_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$/;

export function parseSqlTime(text: string): Date {
  const m = SQL_TIME.exec(text.trim());
  if (!m) throw new RangeError(`not a c1z time (want "YYYY-MM-DD hh:mm:ss.fffffffff"): ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s, frac = "", zone] = m;
  const ms = Number((frac + "000").slice(0, 3));
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone && zone !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  return new Date(t);
}
