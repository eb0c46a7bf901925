"""A realistic, deterministic demo history for the dashboard: 90 days of Resume2Website activity.

`build_demo(db, scale, seed, now)` writes users, sessions, CV uploads (registered, anonymous and
claimed), and the extraction cache into a new or empty database, following the application's own
rules (docs/figures.md), with growth over time and the leftovers a real production file
shows: expired sessions, stuck jobs, failures, stale anonymous uploads, old cache entries written
under a laxer confidence policy, rows from before file hashing.

As the application writes them: file_type is the file's extension, and an anonymous upload the
cache cannot answer waits in status 'uploaded', unextracted, until the person signs up and
claims it (then it is extracted); one never claimed stays 'uploaded' (about a quarter of uploads).

The same seed and the same `now` give byte-identical rows. A demo database is marked with
`PRAGMA application_id = DEMO_APPLICATION_ID` (no extra table: the schema stays the documented
one); `is_demo(db)` reads that mark.
"""
import base64
import bisect
import math
import random
import time
from dataclasses import dataclass
from datetime import timedelta, timezone

import bcrypt

from r2w_db import config, errors
from r2w_db.demo import documents as documents
from r2w_db.engine import timeutil
from r2w_db.backends import migrations
from r2w_db.backends import open_database

DEMO_APPLICATION_ID = 0x52325744  # "R2WD"
DEMO_PASSWORD = b"demo-password"

HISTORY_DAYS = 90
GROWTH = 1.6                 # activity density grows as exp(GROWTH * x) over the history: ~5x
HASHING_STARTED_DAYS = 78    # uploads older than this predate file hashing: file_hash NULL
POLICY_CHANGE_DAYS = 46      # cache entries older than this were written under a laxer policy
CHUNK = 10_000               # rows per executemany

# Proportions (of uploads unless said otherwise)
ANONYMOUS_SHARE = 0.50       # new uploads made without an account
CLAIM_SHARE = 0.30           # anonymous uploads later claimed (the rest stay 'uploaded': ~a quarter)
CLAIM_WINDOW_DAYS = 3        # ... within this long after the upload
REUSE_SHARE = 0.32           # hashed uploads that re-upload an already cached file (cache hits)
REUSE_SAME_OWNER = 0.6       # a re-upload by the owner of the first upload
REUSE_RECENT = 0.5           # a re-upload of a recently cached file (else any cached file)
CACHE_SHARE = 0.67           # completed new extractions confident enough to be cached
NATURAL_PROCESSING_SECONDS = 180  # an upload younger than this is still processing
PORTFOLIO_SHARE = 0.35       # users who published a portfolio
PHONE_SHARE = 0.6
LOCATION_SHARE = 0.7
BIRTHDATE_SHARE = 0.35
EXTRA_SESSIONS_RECENT = 0.10  # extra sessions (logins) placed in the last 7 days of the user's life

# file type (the extension, as the application stores it) -> (weight, failure rate of a new
# extraction, filename patterns)
FILE_TYPES = (
    (".pdf", 0.72, 0.06,
     ("{F}_{L}_CV.pdf", "{F}_{L}_Resume.pdf", "{f}_{l}_cv.pdf", "CV_{F}_{L}.pdf",
      "{F}{L}_Resume_{Y}.pdf", "{F}_{L}_CV_final.pdf")),
    (".docx", 0.18, 0.06,
     ("{F}_{L}_CV.docx", "{F}_{L}_Resume.docx", "{f}_{l}_resume_{Y}.docx", "CV_{F}_{L}.docx")),
    (".doc", 0.04, 0.12, ("{F}_{L}_CV.doc", "{F}{L}_Resume.doc")),
    (".txt", 0.03, 0.09, ("{f}_{l}_resume.txt", "{F}_{L}_CV.txt")),
    (".png", 0.03, 0.22, ("{F}_{L}_CV.png", "Screenshot_CV_{F}_{L}.png")),
)

# model -> (weight before the policy change, weight after)
MODELS = (
    ("claude-3-opus-20240229", 0.55, 0.15),
    ("claude-3-5-sonnet-20241022", 0.25, 0.65),
    ("claude-3-haiku-20240307", 0.20, 0.20),
)

# UTC hour-of-day and weekday (Monday first) activity, for the acceptance sampler
HOUR_WEIGHTS = (0.35, 0.30, 0.25, 0.22, 0.22, 0.28, 0.40, 0.60, 0.80, 0.95, 1.00, 1.00,
                0.98, 1.00, 1.00, 0.97, 0.92, 0.85, 0.78, 0.70, 0.62, 0.55, 0.48, 0.40)
WEEKDAY_WEIGHTS = (1.00, 1.00, 0.98, 0.96, 0.90, 0.62, 0.66)


@dataclass(frozen=True)
class Scale:
    users: int
    sessions: int
    uploads: int
    stuck: int             # 'processing' uploads 1-48 hours old
    recent_processing: int  # extra 'processing' uploads under 60 minutes old


SCALES = {
    "small": Scale(users=300, sessions=1_000, uploads=1_500, stuck=10, recent_processing=4),
    "medium": Scale(users=6_000, sessions=15_000, uploads=25_000, stuck=25, recent_processing=8),
    "large": Scale(users=200_000, sessions=400_000, uploads=600_000, stuck=120,
                   recent_processing=25),
}


MAX_UPLOADS = 20_000_000     # `--uploads` above this is refused: the build holds its rows in memory


def scaled(scale="large", uploads=None) -> Scale:
    """The named scale, or with `uploads` uploads and every other count in the same proportion."""
    if scale not in SCALES:
        raise errors.InvalidValue(
            f"unknown demo scale {scale!r}: choose one of {', '.join(SCALES)}")
    base = SCALES[scale]
    if uploads is None:
        return base
    if isinstance(uploads, bool) or not isinstance(uploads, int) or not 1 <= uploads <= MAX_UPLOADS:
        raise errors.InvalidValue(
            f"--uploads must be a whole number from 1 to {MAX_UPLOADS:,}, not {uploads!r}")
    factor = uploads / base.uploads
    users = max(1, round(base.users * factor))
    stuck = min(round(base.stuck * factor), uploads // 4)
    recent = min(round(base.recent_processing * factor), uploads // 4)
    return Scale(users=users, sessions=max(users, round(base.sessions * factor)),
                 uploads=uploads, stuck=stuck, recent_processing=recent)


class DemoTargetNotEmpty(errors.R2WError):
    def __init__(self, path, counts):
        what = ", ".join(f"{n:,} {t}" for t, n in counts.items() if n)
        super().__init__(
            f"{path} already holds data ({what}): demo data only goes into a new or empty "
            f"database; choose another --db")


# ------------------------------------------------------------------ public API

def is_demo(db) -> bool:
    """True when the database carries the demo mark (SQLite's application_id); read-only."""
    db = open_database(db)
    with db.read() as conn:
        return db.backend.database_file.application_id(conn) == DEMO_APPLICATION_ID


def build_demo(db, scale="small", seed=0, now=None, progress=None, uploads=None) -> dict:
    """Write a 90-day demo history ending at `now` into a new or empty database; return counts.

    `uploads` replaces the scale's number of uploads, the other tables scaled in proportion.
    Refuses (DemoTargetNotEmpty) when any of the four tables already holds rows. The whole
    history is written in one transaction: a reader sees either nothing or all of it.
    """
    sizes = scaled(scale, uploads)
    db = open_database(db)
    db.backend.require("demo", "demo")
    now = _normalise_now(now)
    started = time.perf_counter()
    created = not db.path.exists()
    if not created:
        with db.read() as conn:
            _refuse_if_not_empty(conn, db.path)
    try:
        migrations.init(db)
        files = db.backend.database_file
        with db.transaction(before=files.prepare_bulk_write) as conn:
            _refuse_if_not_empty(conn, db.path)
            summary = _Builder(sizes, seed, now, progress).run(conn)
            files.set_application_id(conn, DEMO_APPLICATION_ID)
    except BaseException:
        if created:
            for suffix in ("", "-wal", "-shm", "-journal"):
                leftover = db.path.with_name(db.path.name + suffix)
                if leftover.exists():
                    leftover.unlink()
        raise
    summary["scale"] = scale
    summary["now"] = timeutil.iso(now)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    if progress:
        progress(1.0, "done")
    return summary


def demo_password_hash(seed=0) -> str:
    """The one bcrypt hash every demo user shares (password 'demo-password').

    The salt comes from the seed, not os.urandom, so that builds are byte-identical.
    """
    return _password_hash(seed)


# ------------------------------------------------------------------ helpers

def _normalise_now(now):
    if now is None:
        return timeutil.utcnow()
    if isinstance(now, str):
        parsed = timeutil.parse(now)
        if parsed is None:
            raise errors.InvalidValue(f"not a timestamp: {now!r}")
        return parsed
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)
    return now


def _refuse_if_not_empty(conn, path):
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    counts = {}
    for table in ("users", "cv_uploads", "sessions", "cv_extraction_cache"):
        if table in tables:
            counts[table] = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)"
                                         ).fetchone()[0]
    if any(counts.values()):
        exact = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                 for t, n in counts.items() if n}
        raise DemoTargetNotEmpty(path, exact)


_HASHES = {}
_BCRYPT_B64 = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _password_hash(seed):
    salt_bytes = random.Random(f"r2w-demo-salt-{seed}").getrandbits(128).to_bytes(16, "big")
    encoded = base64.b64encode(salt_bytes).translate(_BCRYPT_B64)[:22]
    salt = b"$2b$04$" + encoded
    if salt not in _HASHES:
        _HASHES[salt] = bcrypt.hashpw(DEMO_PASSWORD, salt).decode("ascii")
    return _HASHES[salt]


def _chooser(pairs):
    """pairs of (item, weight) -> f(u in [0,1)) -> item."""
    items = [p[0] for p in pairs]
    total = float(sum(p[1] for p in pairs))
    cum, acc = [], 0.0
    for _, w in pairs:
        acc += w / total
        cum.append(acc)
    cum[-1] = 1.0
    last = len(items) - 1

    def choose(u):
        i = bisect.bisect_right(cum, u)
        return items[i if i <= last else last]

    return choose



# ------------------------------------------------------------------ the builder

_UUID_CLEAR = ~((0xc000 << 48) | (0xf000 << 64)) & ((1 << 128) - 1)
_UUID_SET = (0x8000 << 48) | (4 << 76)


class _Builder:
    def __init__(self, scale, seed, now, progress):
        self.scale = scale
        self.seed = seed
        self.now = now
        self.progress = progress
        self.rng = random.Random(seed)
        self.start = now - timedelta(days=HISTORY_DAYS)
        self.span = HISTORY_DAYS * 86400.0
        midnight = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        self.sod0 = (self.start - midnight).total_seconds()
        self.wd0 = self.start.weekday()
        self.hash_start = self.span - HASHING_STARTED_DAYS * 86400
        self.policy_change = self.span - POLICY_CHANGE_DAYS * 86400
        total = scale.users + scale.sessions + scale.uploads * 4
        self.weights = (scale.users / total, scale.sessions / total)
        self.summary = {}

    # -- small tools

    def uuid(self):
        """str(uuid.UUID(int=rng.getrandbits(128), version=4)), without the object (3x faster)."""
        h = "%032x" % ((self.rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def ts(self, offset):
        return timeutil.iso(self.start + timedelta(seconds=offset))

    def offsets(self, n):
        """n sorted offsets (seconds into the history): growing density, daily and weekly rhythm."""
        rng = self.rng
        r = rng.random
        k = math.expm1(GROWTH)
        span, sod0, wd0 = self.span, self.sod0, self.wd0
        hours, days = HOUR_WEIGHTS, WEEKDAY_WEIGHTS
        log1p = math.log1p
        out = []
        append = out.append
        while len(out) < n:
            off = log1p(r() * k) / GROWTH * span
            s = sod0 + off
            if r() < hours[int(s % 86400 // 3600)] * days[(wd0 + int(s // 86400)) % 7]:
                append(off)
        out.sort()
        return out

    def report(self, fraction, message):
        if self.progress:
            self.progress(min(fraction, 0.999), message)

    # -- the phases

    def run(self, conn):
        self.users(conn)
        self.sessions(conn)
        self.uploads(conn)
        return self.summary

    def users(self, conn):
        rng, n = self.rng, self.scale.users
        r = rng.random
        password_hash = _password_hash(self.seed)
        offsets = self.offsets(n)
        self.user_offsets = offsets
        self.user_ids, self.user_persons = [], []
        rows, portfolios = [], 0
        for i, off in enumerate(offsets):
            user_id = self.uuid()
            first, last = rng.choice(documents.FIRST_NAMES), rng.choice(documents.LAST_NAMES)
            email = f"{first}.{last}{i + 1}@example.com".lower().replace("'", "")
            phone = documents.phone_number(rng) if r() < PHONE_SHARE else None
            location = rng.choice(documents.CITIES) if r() < LOCATION_SHARE else None
            birth = None
            if r() < BIRTHDATE_SHARE:
                birth = "%04d-%02d-%02d" % (self.now.year - 20 - rng.randrange(40),
                                            rng.randrange(1, 13), rng.randrange(1, 29))
            portfolio = (None, None, None, None)
            if r() < PORTFOLIO_SHARE:
                p_off = off + 600 + r() * (self.span - off)
                if p_off < self.span - 60:
                    portfolios += 1
                    pid = self.uuid()
                    slug = f"{first}-{last}".lower().replace("'", "")
                    url = (f"https://{slug}-{pid[:8]}.vercel.app" if r() < 0.85
                           else f"http://localhost:3000/portfolio/{pid}")
                    p_at = self.start + timedelta(seconds=p_off)
                    portfolio = (pid, url, timeutil.iso(p_at),
                                 timeutil.iso(p_at + timedelta(days=config.PORTFOLIO_DAYS)))
            rows.append((user_id, email, password_hash, f"{first} {last}", phone, birth, location,
                         self.ts(off), *portfolio))
            self.user_ids.append(user_id)
            self.user_persons.append(documents.person(first, last, email, phone, location))
        for i in range(0, len(rows), CHUNK):
            conn.executemany("INSERT INTO users VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows[i:i + CHUNK])
            self.report(self.weights[0] * min(1, (i + CHUNK) / n), f"users {min(i + CHUNK, n):,}/{n:,}")
        expired_portfolios = sum(1 for row in rows if row[11] and row[11] < timeutil.iso(self.now))
        self.summary.update(users=n, portfolios=portfolios,
                            portfolios_expired=expired_portfolios)

    def sessions(self, conn):
        rng, n_users = self.rng, self.scale.users
        r = rng.random
        span = self.span
        week = config.SESSION_DAYS * 86400
        offsets = self.user_offsets
        sessions = []
        for i, off in enumerate(offsets):  # the sign-in right after signing up
            sessions.append((min(off + 2 + r() * 40, span - 1), i))
        for _ in range(self.scale.sessions - n_users):  # later sign-ins
            i = rng.randrange(n_users)
            lo = offsets[i]
            if r() < EXTRA_SESSIONS_RECENT:
                lo = max(lo, span - week)
            sessions.append((lo + r() * (span - lo), i))
        sessions.sort()
        cutoff = span - week
        active = sum(1 for s in sessions if s[0] >= cutoff)
        rows = [(self.uuid(), self.user_ids[i], self.ts(off)) for off, i in sessions]
        base, n = self.weights[0], len(rows)
        for i in range(0, n, CHUNK):
            conn.executemany("INSERT INTO sessions VALUES (?,?,?)", rows[i:i + CHUNK])
            self.report(base + self.weights[1] * min(1, (i + CHUNK) / n),
                        f"sessions {min(i + CHUNK, n):,}/{n:,}")
        self.summary.update(sessions=n, sessions_active=active, sessions_expired=n - active)

    def uploads(self, conn):
        scale, rng = self.scale, self.rng
        r, randrange, getrandbits = rng.random, rng.randrange, rng.getrandbits
        span = self.span
        ts, new_uuid = self.ts, self.uuid
        user_offsets, user_ids, user_persons = self.user_offsets, self.user_ids, self.user_persons
        n_users = len(user_ids)
        claim_window = CLAIM_WINDOW_DAYS * 86400
        retention = config.ANONYMOUS_RETENTION_DAYS * 86400

        choose_type = _chooser([(ft, w) for ft, w, _, _ in FILE_TYPES])
        fail_rate = {ft: f for ft, _, f, _ in FILE_TYPES}
        patterns = {ft: p for ft, _, _, p in FILE_TYPES}
        old_model = _chooser([(m, a) for m, a, _ in MODELS])
        new_model = _chooser([(m, b) for m, _, b in MODELS])

        normal = scale.uploads - scale.stuck - scale.recent_processing
        events = [(off, 0) for off in self.offsets(normal)]
        events += [(span - 65 * 60 - r() * (47.5 - 65 / 60) * 3600, 1) for _ in range(scale.stuck)]
        events += [(span - 60 - r() * 54 * 60, 2) for _ in range(scale.recent_processing)]
        events.sort()

        # cache entries: parallel lists (created offset) and records
        cache_created, cache = [], []
        rows, cache_rows = [], []
        counts = dict(uploads=0, uploads_completed=0, uploads_failed=0, uploads_processing=0,
                      uploads_uploaded=0, stuck_jobs=0, uploads_without_hash=0, anonymous_uploads=0, anonymous_ids=0,
                      stale_anonymous_ids=0, claimed_uploads=0, registered_uploads=0,
                      cache_entries=0, cache_hits=0, cache_below_threshold=0,
                      cache_low_confidence=0, cache_null_confidence=0)
        base = self.weights[0] + self.weights[1]
        total = len(events)

        def flush():
            if rows:
                conn.executemany("INSERT INTO cv_uploads VALUES (?,?,?,?,?,?,?,?,?)", rows)
                rows.clear()
            if cache_rows:
                conn.executemany("INSERT INTO cv_extraction_cache VALUES (?,?,?,?,?,?,?,?)",
                                 cache_rows)
                cache_rows.clear()

        for done, (off, kind) in enumerate(events, 1):
            when = ts(off)
            age = span - off
            hashed = off >= self.hash_start
            entry = None
            if kind == 0 and hashed and cache and r() < REUSE_SHARE:
                n = len(cache)
                if r() < REUSE_RECENT:
                    idx = n - 1 - randrange(min(n, max(5, n // 50)))
                else:
                    idx = randrange(n)
                while idx >= 0 and cache_created[idx] >= off:
                    idx -= 1
                if idx >= 0:
                    entry = cache[idx]

            if entry is not None:  # a cache hit: the same file again, answered from the cache
                file_hash, person, doc_seed, doc_month, file_type, filename, owner = entry[:7]
                entry[7] += 1
                entry[8] = when
                if owner is not None and user_offsets[owner] < off and r() < REUSE_SAME_OWNER:
                    user_id = user_ids[owner]
                elif n_users and user_offsets[0] < off and r() >= ANONYMOUS_SHARE:
                    user_id = user_ids[randrange(bisect.bisect_left(user_offsets, off))]
                else:
                    user_id = "anonymous_" + new_uuid()
                status = "completed"
                cv_data = documents.cv_document(doc_seed, person, doc_month)
                counts["cache_hits"] += 1
            else:
                owner = None
                waiting = False  # an anonymous upload never claimed: never extracted
                k = bisect.bisect_left(user_offsets, off)
                if k == 0 or r() < ANONYMOUS_SHARE:
                    claimer = None
                    if r() < CLAIM_SHARE:
                        j = bisect.bisect_left(user_offsets, off + claim_window)
                        if j > k:
                            claimer = randrange(k, j)
                    if claimer is not None:  # signed up afterwards and claimed it
                        owner = claimer
                        user_id = user_ids[claimer]
                        person = user_persons[claimer]
                        counts["claimed_uploads"] += 1
                    else:
                        waiting = True
                        user_id = "anonymous_" + new_uuid()
                        first, last = rng.choice(documents.FIRST_NAMES), rng.choice(documents.LAST_NAMES)
                        email = (f"{first}.{last}{randrange(1, 100)}@example."
                                 f"{'net' if r() < 0.5 else 'org'}").lower().replace("'", "")
                        person = documents.person(first, last, email, None, None)
                else:
                    owner = randrange(k)
                    user_id = user_ids[owner]
                    person = user_persons[owner]
                file_type = choose_type(r())
                first, last = person[0], person[1]
                filename = patterns[file_type][randrange(len(patterns[file_type]))].format(
                    F=first, L=last, f=first.lower(), l=last.lower(), Y=int(when[:4]) - randrange(2))
                if kind or age < NATURAL_PROCESSING_SECONDS:
                    status = "processing"
                elif waiting:
                    status = "uploaded"
                elif r() < fail_rate[file_type]:
                    status = "failed"
                else:
                    status = "completed"
                file_hash = "%064x" % getrandbits(256) if hashed else None
                doc_seed = getrandbits(192)
                doc_month = int(when[:4]) * 12 + int(when[5:7]) - 1
                cv_data = (documents.cv_document(doc_seed, person, doc_month)
                           if status == "completed" else None)
                if status == "completed" and hashed and r() < CACHE_SHARE:
                    created = off + 2 + r() * 38
                    created_iso = ts(created)
                    if created < self.policy_change:
                        model = old_model(r())
                        u = r()
                        if u < 0.04:
                            confidence = None
                        elif u < 0.14:
                            confidence = round(0.45 + r() * 0.2499, 4)
                        elif u < 0.32:
                            confidence = round(0.70 + r() * 0.0499, 4)
                        else:
                            confidence = round(0.99 - 0.2299 * r() ** 1.6, 4)
                    else:
                        model = new_model(r())
                        confidence = round(0.99 - 0.2299 * r() ** 1.6, 4)
                    if confidence is None:
                        counts["cache_null_confidence"] += 1
                    else:
                        counts["cache_below_threshold"] += confidence < config.CACHE_THRESHOLD
                        counts["cache_low_confidence"] += confidence < config.LOW_CONFIDENCE
                    cache_rows.append((file_hash, cv_data, model, 0.0, created_iso, confidence,
                                       1, created_iso))
                    cache_created.append(created)
                    cache.append([file_hash, person, doc_seed, doc_month, file_type, filename,
                                  owner, 1, created_iso])

            rows.append((new_uuid(), user_id, new_uuid(), filename, file_type, when, cv_data,
                         status, file_hash))
            counts["uploads"] += 1
            counts["uploads_" + status] += 1
            if status == "processing" and age > config.STUCK_MINUTES * 60:
                counts["stuck_jobs"] += 1
            if file_hash is None:
                counts["uploads_without_hash"] += 1
            if user_id.startswith(config.ANONYMOUS_PREFIX):
                counts["anonymous_uploads"] += 1
                counts["anonymous_ids"] += 1
                counts["stale_anonymous_ids"] += age > retention
            else:
                counts["registered_uploads"] += 1
            if len(rows) >= CHUNK:
                flush()
                self.report(base + (1 - base) * 0.97 * done / total,
                            f"uploads {done:,}/{total:,}")
        flush()

        updates = [(e[7], e[8], e[0]) for e in cache if e[7] > 1]
        for i in range(0, len(updates), CHUNK):
            conn.executemany("UPDATE cv_extraction_cache SET access_count = ?, last_accessed = ? "
                             "WHERE file_hash = ?", updates[i:i + CHUNK])
        self.report(0.999, "cache access counts")
        counts["cache_entries"] = len(cache)
        counts["cache_entries_reused"] = len(updates)
        counts["cache_entries_unused_stale"] = sum(
            1 for c, e in zip(cache_created, cache)
            if e[7] == 1 and span - c > config.CACHE_RETENTION_DAYS * 86400)
        self.summary.update(counts)
