"""A realistic, deterministic demo history for the dashboard: 90 days of Resume2Website activity.

`build_demo(db, scale, seed, now)` writes users, sessions, CV uploads (registered, anonymous and
claimed), and the extraction cache into a new or empty database, following the application's own
rules (DESIGN.md "Definitions"), with growth over time and the leftovers a real production file
shows: expired sessions, stuck jobs, failures, stale anonymous uploads, old cache entries written
under a laxer confidence policy, rows from before file hashing.

The same seed and the same `now` give byte-identical rows. A demo database is marked with
`PRAGMA application_id = DEMO_APPLICATION_ID` (no extra table: the schema stays the documented
one); `is_demo(db)` reads that mark.
"""
import base64
import bisect
import json
import math
import random
import time
from dataclasses import dataclass
from datetime import timedelta, timezone

import bcrypt

from . import config, errors, migrations, timeutil
from .connection import as_database, transaction

DEMO_APPLICATION_ID = 0x52325744  # "R2WD"
DEMO_PASSWORD = b"demo-password"

HISTORY_DAYS = 90
GROWTH = 1.6                 # activity density grows as exp(GROWTH * x) over the history: ~5x
HASHING_STARTED_DAYS = 78    # uploads older than this predate file hashing: file_hash NULL
POLICY_CHANGE_DAYS = 46      # cache entries older than this were written under a laxer policy
CHUNK = 10_000               # rows per executemany

# Proportions (of uploads unless said otherwise)
ANONYMOUS_SHARE = 0.38       # new uploads made without an account
CLAIM_SHARE = 0.42           # anonymous uploads later claimed by the person signing up
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

# file type -> (weight, failure rate of a new extraction, filename patterns)
FILE_TYPES = (
    ("application/pdf", 0.72, 0.06,
     ("{F}_{L}_CV.pdf", "{F}_{L}_Resume.pdf", "{f}_{l}_cv.pdf", "CV_{F}_{L}.pdf",
      "{F}{L}_Resume_{Y}.pdf", "{F}_{L}_CV_final.pdf")),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", 0.18, 0.06,
     ("{F}_{L}_CV.docx", "{F}_{L}_Resume.docx", "{f}_{l}_resume_{Y}.docx", "CV_{F}_{L}.docx")),
    ("application/msword", 0.04, 0.12, ("{F}_{L}_CV.doc", "{F}{L}_Resume.doc")),
    ("text/plain", 0.03, 0.09, ("{f}_{l}_resume.txt", "{F}_{L}_CV.txt")),
    ("image/png", 0.03, 0.22, ("{F}_{L}_CV.png", "Screenshot_CV_{F}_{L}.png")),
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


class DemoTargetNotEmpty(errors.R2WError):
    def __init__(self, path, counts):
        what = ", ".join(f"{n:,} {t}" for t, n in counts.items() if n)
        super().__init__(
            f"{path} already holds data ({what}): demo data only goes into a new or empty "
            f"database; choose another --db")


# ------------------------------------------------------------------ public API

def is_demo(db) -> bool:
    """True when the database carries the demo mark (PRAGMA application_id); read-only."""
    with as_database(db).read() as conn:
        return conn.execute("PRAGMA application_id").fetchone()[0] == DEMO_APPLICATION_ID


def build_demo(db, scale="small", seed=0, now=None, progress=None) -> dict:
    """Write a 90-day demo history ending at `now` into a new or empty database; return counts.

    Refuses (DemoTargetNotEmpty) when any of the four tables already holds rows. The whole
    history is written in one transaction: a reader sees either nothing or all of it.
    """
    if scale not in SCALES:
        raise errors.InvalidValue(
            f"unknown demo scale {scale!r}: choose one of {', '.join(SCALES)}")
    db = as_database(db)
    now = _normalise_now(now)
    started = time.perf_counter()
    created = not db.path.exists()
    if not created:
        with db.read() as conn:
            _refuse_if_not_empty(conn, db.path)
    try:
        migrations.init(db)
        with db.write() as conn:
            # this connection only (closed after the build): no fsync, 256 MB of page cache
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("PRAGMA cache_size = -262144")
            with transaction(conn):
                _refuse_if_not_empty(conn, db.path)
                summary = _Builder(SCALES[scale], seed, now, progress).run(conn)
                conn.execute(f"PRAGMA application_id = {int(DEMO_APPLICATION_ID)}")
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


def _esc(text):
    """JSON string contents (without the quotes)."""
    return json.dumps(text)[1:-1]


# ------------------------------------------------------------------ pools (ASCII, fictional)

FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Daniel Karen Matthew Lisa Anthony Nancy Mark "
    "Sandra Steven Ashley Andrew Emily Joshua Michelle Kevin Amanda Brian Melissa Noa Yael Omer "
    "Tamar Daniela Lior Maya Ethan Olivia Liam Emma Noah Ava Lucas Sophia Mateo Isabella Leo Mia "
    "Hugo Chloe Louis Camille Jonas Lea Felix Hannah Elias Lina Marco Giulia Luca Sofia Pablo "
    "Lucia Diego Carmen Arjun Priya Rohan Ananya Wei Mei Hiroshi Yuki Kwame Amara Tariq Leila "
    "Ivan Olga Piotr Zofia Sean Aoife Erik Ingrid Jane"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis "
    "Walker Hall Young Allen King Wright Scott Green Baker Adams Nelson Carter Mitchell Roberts "
    "Cohen Levi Mizrahi Peretz Friedman Schmidt Muller Weber Fischer Dubois Moreau Laurent "
    "Bernard Rossi Russo Bianchi Romano Fernandez Gonzalez Sanchez Ramirez Patel Sharma Gupta "
    "Singh Chen Wang Li Zhang Tanaka Sato Suzuki Okafor Mensah Haddad Khan Novak Kowalski "
    "Ivanova Murphy Kelly Byrne Larsen Nilsen Andersson Doe O'Brien Smith-Jones"
).split()
CITIES = (
    "London, UK", "Manchester, UK", "Berlin, Germany", "Munich, Germany", "Paris, France",
    "Amsterdam, Netherlands", "Madrid, Spain", "Milan, Italy", "Tel Aviv, Israel", "Haifa, Israel",
    "New York, NY", "San Francisco, CA", "Austin, TX", "Seattle, WA", "Chicago, IL", "Boston, MA",
    "Toronto, Canada", "Vancouver, Canada", "Sydney, Australia", "Dublin, Ireland",
    "Stockholm, Sweden", "Warsaw, Poland", "Bangalore, India", "Singapore", "Lisbon, Portugal",
)
PHONE_FORMATS = ("+1 (555) {a:03d}-{b:04d}", "+44 20 7946 {b:04d}", "+972 55-5{a:02d}-{b:04d}",
                 "+49 30 5550{a:03d}{b:01d}", "+1-555-{a:03d}-{b:04d}", "+33 1 55 55 {c:02d} {d:02d}")
COMPANIES = (
    "Northwind Analytics", "Bluepeak Systems", "Contoso Health", "Fabrikam Labs", "Globex Digital",
    "Initech Software", "Umbrella Logistics", "Stark Mobility", "Wayne Financial", "Acme Retail Group",
    "Hooli Cloud", "Vandelay Imports", "Soylent Foods", "Tyrell Robotics", "Cyberdyne Security",
    "Pied Piper", "Massive Dynamic", "Oscorp Energy", "Wonka Consumer Brands", "Gringotts Capital",
    "Monarch Media", "Sterling & Cooper Advertising", "Blue Sun Commerce", "Aperture Research",
    "Black Mesa Engineering", "Nakatomi Trading", "Dunder Mifflin Paper", "Prestige Worldwide",
    "Cogswell Cogs", "Spacely Sprockets", "Virtucon Industries", "Genco Shipping", "Rekall Travel",
    "Bluth Development", "Krusty Hospitality", "Los Pollos Logistics", "Ollivander Design Studio",
    "Zenith Insurance", "Helios Solar", "Orbit Telecom", "Lumen Education", "Kestrel Bank",
)
UNIVERSITIES = (
    "University of Manchester", "University College London", "Technical University of Munich",
    "Sorbonne University", "University of Amsterdam", "Tel Aviv University", "Technion",
    "Hebrew University of Jerusalem", "University of Texas at Austin", "University of Washington",
    "University of Toronto", "McGill University", "University of Sydney", "Trinity College Dublin",
    "KTH Royal Institute of Technology", "University of Warsaw", "Indian Institute of Science",
    "National University of Singapore", "University of Lisbon", "Boston University",
    "Politecnico di Milano", "University of Edinburgh", "Georgia Institute of Technology",
)
LANGUAGES = ("Hebrew (native)", "Spanish (professional)", "French (conversational)",
             "German (professional)", "Italian (basic)", "Arabic (native)", "Hindi (native)",
             "Mandarin (conversational)", "Polish (native)", "Portuguese (professional)")

# track -> titles, bullets (may hold {n}), skills, summary sentences, fields of study, certifications
TRACKS = {
    "software": dict(
        domain="software engineering",
        titles=("Software Engineer", "Senior Software Engineer", "Backend Developer",
                "Full Stack Developer", "Staff Engineer", "Engineering Manager", "Platform Engineer"),
        bullets=(
            "Designed and built a multi-tenant REST API serving {n} million requests per day with p99 latency under 120 ms.",
            "Led the migration of a monolith to containerised services on Kubernetes, cutting deployment time by {n}%.",
            "Introduced contract tests and CI quality gates that reduced production incidents by {n}% year over year.",
            "Mentored {n} junior engineers through code reviews, pairing sessions and a weekly architecture forum.",
            "Rebuilt the billing pipeline with idempotent event processing, eliminating duplicate charges entirely.",
            "Optimised PostgreSQL queries and indexes, bringing the slowest dashboard from 9 s down to {n}00 ms.",
            "Owned the on-call rotation for the payments team and wrote runbooks that halved mean time to recovery.",
            "Shipped a React and TypeScript design system adopted by {n} product teams across the company.",
            "Automated infrastructure with Terraform and GitHub Actions, saving roughly {n} engineer-hours per month.",
            "Implemented feature flags and gradual rollouts, enabling {n} releases per week with zero downtime.",
            "Built a caching layer with Redis that reduced database load by {n}% during peak traffic.",
            "Partnered with product and design to scope, estimate and deliver a new onboarding flow in {n} weeks.",
        ),
        skills=("Python", "TypeScript", "Go", "Java", "PostgreSQL", "Redis", "Kafka", "AWS", "GCP",
                "Docker", "Kubernetes", "Terraform", "React", "Node.js", "GraphQL", "CI/CD",
                "System design", "Linux"),
        summary=("Pragmatic engineer who enjoys turning ambiguous problems into simple, well-tested systems.",
                 "Comfortable across the stack, with a focus on reliability, observability and developer experience.",
                 "Known for clear written design documents and for raising the bar in code review.",
                 "Looking for a team that ships often and cares about the craft."),
        fields=("Computer Science", "Software Engineering", "Electrical Engineering", "Mathematics"),
        certs=("AWS Certified Solutions Architect - Associate", "Certified Kubernetes Administrator",
               "Google Professional Cloud Developer"),
    ),
    "data": dict(
        domain="data science and analytics",
        titles=("Data Analyst", "Data Scientist", "Senior Data Scientist", "Machine Learning Engineer",
                "Analytics Engineer", "Head of Data"),
        bullets=(
            "Built a churn prediction model (gradient boosting) that identified {n}% of at-risk customers a month ahead.",
            "Designed the company's dbt project and semantic layer, replacing {n} hand-maintained spreadsheets.",
            "Ran A/B tests on pricing pages with proper power analysis, lifting conversion by {n}% at 95% confidence.",
            "Deployed a real-time fraud scoring service that reduced chargebacks by {n}% within two quarters.",
            "Created executive dashboards in Looker used weekly by the leadership team and {n} regional managers.",
            "Cleaned and documented a {n} TB event dataset, making self-serve analytics possible for product teams.",
            "Trained and evaluated NLP models for support ticket routing, saving about {n} agent hours per week.",
            "Introduced data quality tests and alerting that caught pipeline breakages before they reached reports.",
            "Forecasted demand for {n} warehouses with hierarchical time series models, reducing stock-outs.",
            "Presented findings to non-technical stakeholders and turned them into a quarterly experimentation roadmap.",
            "Partnered with engineering to instrument product events and define a single source of truth for metrics.",
        ),
        skills=("Python", "SQL", "pandas", "scikit-learn", "PyTorch", "dbt", "Airflow", "Spark",
                "BigQuery", "Snowflake", "Looker", "Tableau", "Statistics", "A/B testing",
                "Machine learning", "Data visualisation"),
        summary=("Data professional who combines statistical rigour with a strong sense of what matters to the business.",
                 "Experienced in taking models from notebook to production and measuring their real impact.",
                 "Enjoys building the data foundations that let whole teams answer their own questions.",
                 "Clear communicator who turns analyses into decisions."),
        fields=("Statistics", "Computer Science", "Economics", "Applied Mathematics", "Physics"),
        certs=("Google Professional Data Engineer", "Databricks Certified Data Engineer Associate",
               "Tableau Desktop Specialist"),
    ),
    "marketing": dict(
        domain="digital marketing and growth",
        titles=("Marketing Coordinator", "Digital Marketing Specialist", "Growth Marketing Manager",
                "Content Marketing Lead", "Head of Marketing", "Performance Marketing Manager"),
        bullets=(
            "Managed a paid acquisition budget of ${n}00K across Google, Meta and LinkedIn while lowering CAC by 18%.",
            "Launched a content programme that grew organic traffic by {n}% in twelve months.",
            "Rebuilt the lifecycle email journeys in HubSpot, raising trial-to-paid conversion by {n} points.",
            "Coordinated a product launch across {n} markets with localised landing pages and press outreach.",
            "Set up attribution reporting that finally reconciled marketing spend with pipeline in the CRM.",
            "Grew the company newsletter from 2,000 to {n},000 subscribers with a weekly editorial calendar.",
            "Ran {n} conversion experiments per quarter on landing pages and pricing copy.",
            "Hired and managed a team of {n} marketers and freelancers across content, design and paid media.",
            "Negotiated co-marketing partnerships that generated {n}% of new qualified leads.",
            "Produced webinars and case studies with customers, supporting a sales cycle reduction of two weeks.",
        ),
        skills=("SEO", "Google Ads", "Meta Ads", "HubSpot", "Salesforce", "Google Analytics 4",
                "Copywriting", "Content strategy", "Marketing automation", "A/B testing", "Figma",
                "Brand positioning", "Budget management", "Email marketing"),
        summary=("Growth-minded marketer who pairs creative storytelling with disciplined measurement.",
                 "Has built marketing functions from scratch and scaled programmes across several markets.",
                 "Comfortable owning a budget and reporting on return to the leadership team.",
                 "Believes every campaign should start with a clear hypothesis."),
        fields=("Marketing", "Communications", "Business Administration", "Journalism"),
        certs=("Google Ads Search Certification", "HubSpot Inbound Marketing Certification",
               "Meta Certified Digital Marketing Associate"),
    ),
    "finance": dict(
        domain="finance and accounting",
        titles=("Financial Analyst", "Senior Accountant", "FP&A Manager", "Controller",
                "Investment Analyst", "Finance Business Partner"),
        bullets=(
            "Owned the monthly close for {n} legal entities and shortened it from ten to six working days.",
            "Built a driver-based three-statement model used for the Series B fundraising process.",
            "Prepared board packs and variance analyses explaining performance against budget each month.",
            "Led the implementation of NetSuite, migrating {n} years of historical ledgers without restatements.",
            "Identified cost savings of ${n}00K per year through a vendor and software subscription review.",
            "Coordinated the annual external audit, resolving all findings with no material weaknesses.",
            "Designed revenue recognition procedures under IFRS 15 for multi-element SaaS contracts.",
            "Automated cash forecasting with Python and SQL, improving accuracy to within {n}% over 13 weeks.",
            "Supported due diligence on {n} acquisitions, modelling synergies and integration costs.",
            "Partnered with department heads to build bottom-up budgets and quarterly reforecasts.",
        ),
        skills=("Financial modelling", "Excel", "NetSuite", "SAP", "IFRS", "US GAAP", "Budgeting",
                "Forecasting", "Power BI", "SQL", "Audit", "Variance analysis", "Treasury", "Tax compliance"),
        summary=("Commercially minded finance professional who makes the numbers useful to the people running the business.",
                 "Experienced in fast-growing companies, from first audit to investor reporting.",
                 "Brings structure to closes, controls and forecasts without slowing the business down.",
                 "Trusted partner to founders and department heads."),
        fields=("Accounting", "Finance", "Economics", "Business Administration"),
        certs=("CPA", "ACCA", "CFA Level II", "Financial Modeling & Valuation Analyst (FMVA)"),
    ),
    "design": dict(
        domain="product and UX design",
        titles=("UX Designer", "Product Designer", "Senior Product Designer", "UI Designer",
                "Design Lead", "UX Researcher"),
        bullets=(
            "Redesigned the checkout flow based on {n} usability sessions, increasing completion by 14%.",
            "Created and maintained a Figma component library shared by {n} designers and engineers.",
            "Ran discovery interviews with customers and translated insights into a prioritised opportunity map.",
            "Designed the mobile app's onboarding, lifting day-7 retention by {n}%.",
            "Established accessibility guidelines and audited key screens against WCAG 2.1 AA.",
            "Facilitated design sprints with product and engineering to validate {n} new concepts in prototypes.",
            "Introduced a research repository that made past findings searchable for the whole company.",
            "Partnered with brand to refresh the visual language across web, app and marketing sites.",
            "Measured design impact with product analytics and presented results in monthly reviews.",
            "Mentored {n} junior designers and ran a weekly critique session.",
        ),
        skills=("Figma", "Sketch", "Prototyping", "User research", "Usability testing", "Design systems",
                "Interaction design", "Accessibility", "Wireframing", "Information architecture",
                "Adobe Illustrator", "HTML/CSS", "Journey mapping"),
        summary=("Designer who cares about the whole experience, from the first research question to the last pixel.",
                 "Works closely with engineers and product managers and is happy to get into the details of implementation.",
                 "Advocate for accessible, inclusive products.",
                 "Uses evidence, not opinion, to settle design debates."),
        fields=("Interaction Design", "Graphic Design", "Human-Computer Interaction", "Psychology"),
        certs=("Google UX Design Certificate", "Nielsen Norman Group UX Certification",
               "IAAP Certified Professional in Accessibility Core Competencies"),
    ),
    "operations": dict(
        domain="operations and project management",
        titles=("Project Coordinator", "Operations Manager", "Project Manager", "Program Manager",
                "Customer Success Manager", "Supply Chain Analyst"),
        bullets=(
            "Managed a portfolio of {n} concurrent projects with a combined budget of $4M, delivering on time.",
            "Introduced agile ceremonies and a shared roadmap that improved delivery predictability by {n}%.",
            "Reduced order fulfilment time from five days to {n} through process mapping and vendor changes.",
            "Onboarded {n} enterprise customers and kept gross revenue retention above 95%.",
            "Built KPI dashboards that gave the leadership team a weekly view of operational health.",
            "Negotiated contracts with {n} suppliers, saving 12% on annual logistics costs.",
            "Wrote the standard operating procedures used to train new hires across three sites.",
            "Coordinated cross-functional launches with engineering, legal and marketing stakeholders.",
            "Led the rollout of a new ticketing system to {n} support agents with no service disruption.",
            "Ran quarterly business reviews with key accounts and turned feedback into product requests.",
        ),
        skills=("Project management", "Agile", "Scrum", "Jira", "Asana", "Stakeholder management",
                "Process improvement", "Lean", "Vendor management", "Risk management", "Excel",
                "Salesforce", "Customer success", "Budget tracking"),
        summary=("Organised, calm operator who keeps complex work moving and people aligned.",
                 "Experienced in scaling processes as teams grow from a handful of people to several hundred.",
                 "Data-informed, with a bias for simple tools that people actually use.",
                 "Enjoys being the connective tissue between teams."),
        fields=("Business Administration", "Industrial Engineering", "Management", "Economics"),
        certs=("PMP", "PRINCE2 Practitioner", "Certified ScrumMaster", "Lean Six Sigma Green Belt"),
    ),
}
TRACK_NAMES = tuple(TRACKS)


# ------------------------------------------------------------------ CV documents
#
# A document is assembled from pre-rendered, pre-escaped JSON fragments (a bank built once from a
# fixed seed), picked and dated with the bits of a per-document integer: no Random seeding and
# no json.dumps per row. The same (bits, person, month) always gives the same text.

BANK_SIZE = 256


def _build_bank():
    rng = random.Random("r2w-demo-bank-v1")
    banks = []
    for name in TRACK_NAMES:
        t = TRACKS[name]
        titles = t["titles"]
        # job fragments by seniority: 0 latest (senior), 1 middle, 2 earliest (junior)
        ranks = []
        third = max(1, len(titles) // 3)
        pools = (titles[-2 * third:], titles[third:len(titles) - third] or titles,
                 titles[:third + 1])
        for pool in pools:
            jobs = []
            for _ in range(BANK_SIZE):
                bullets = rng.sample(t["bullets"], 3 + rng.randrange(3))
                title = _esc(rng.choice(pool))
                head = (f'{{"company": "{_esc(rng.choice(COMPANIES))}", '
                        f'"title": "{title}", '
                        f'"location": "{_esc(rng.choice(CITIES))}", "start_date": "')
                tail = ', "bullets": [' + ", ".join(
                    '"' + _esc(b.format(n=2 + rng.randrange(38))) + '"' for b in bullets) + "]}"
                jobs.append((head, tail, title))
            ranks.append(tuple(jobs))
        education = []
        for _ in range(64):
            education.append(
                f'{{"institution": "{_esc(rng.choice(UNIVERSITIES))}", '
                f'"degree": "{"B.Sc." if rng.random() < 0.6 else "B.A."}", '
                f'"field": "{_esc(rng.choice(t["fields"]))}", "start_date": "')
        masters = []
        for _ in range(32):
            masters.append(
                f'{{"institution": "{_esc(rng.choice(UNIVERSITIES))}", '
                f'"degree": "{"M.Sc." if rng.random() < 0.6 else "MBA"}", '
                f'"field": "{_esc(rng.choice(t["fields"]))}", "start_date": "')
        summaries = tuple(" ".join(_esc(s) for s in rng.sample(t["summary"], 3)) for _ in range(16))
        skills = tuple(", ".join('"' + _esc(s) + '"' for s in
                                 rng.sample(t["skills"], 8 + rng.randrange(6))) for _ in range(64))
        certs = tuple(", ".join('"' + _esc(s) + '"' for s in rng.sample(t["certs"], rng.randrange(3)))
                      for _ in range(16))
        banks.append(dict(
            jobs=tuple(ranks), education=tuple(education), masters=tuple(masters),
            summaries=summaries, skills=skills, certs=certs, domain=_esc(t["domain"]),
        ))
    languages = tuple(", ".join(['"English (fluent)"'] + ['"' + _esc(s) + '"' for s in
                                                          rng.sample(LANGUAGES, rng.randrange(3))])
                      for _ in range(32))
    phones = tuple(json.dumps(_phone(rng)) for _ in range(64))
    cities = tuple(json.dumps(c) for c in CITIES)
    return tuple(banks), languages, phones, cities


_BANK = None


def _bank():
    global _BANK
    if _BANK is None:
        _BANK = _build_bank()
    return _BANK


def _phone(rng):
    return rng.choice(PHONE_FORMATS).format(a=rng.randrange(100, 1000), b=rng.randrange(0, 10000),
                                            c=rng.randrange(100), d=rng.randrange(100))


def _person(first, last, email, phone, location):
    """A CV's owner, JSON-escaped once: (first, last, name, email, phone, location, slug)."""
    return (first, last, json.dumps(f"{first} {last}"), json.dumps(email),
            None if phone is None else json.dumps(phone),
            None if location is None else json.dumps(location),
            f"{first}-{last}".lower().replace("'", ""))


def _cv_document(bits, person, month_index):
    """A realistic CV as JSON text (about 3 KB), chosen by the integer `bits` (>= 160 bits)."""
    banks, languages, phones, cities = _bank()
    _, _, name, email, phone, location, slug = person
    x, t = divmod(bits, len(banks))
    bank = banks[t]
    x, n_jobs = divmod(x, 3)
    n_jobs += 3
    x, lag = divmod(x, 4)
    end = month_index - lag
    jobs = bank["jobs"]
    parts = []
    for j in range(n_jobs):
        x, b = divmod(x, BANK_SIZE)
        x, length = divmod(x, 42)
        start = end - 12 - length
        head, tail, job_title = jobs[0 if j == 0 else (2 if j == n_jobs - 1 else 1)][b]
        if j == 0:
            title = job_title
        parts.append("%s%04d-%02d\", \"end_date\": %s%s" % (
            head, start // 12, start % 12 + 1,
            '"Present"' if j == 0 else '"%04d-%02d"' % (end // 12, end % 12 + 1), tail))
        x, gap = divmod(x, 4)
        end = start - gap
    first_year = (end + 4) // 12
    years = max(1, month_index // 12 - first_year)
    x, e = divmod(x, 64)
    x, late = divmod(x, 2)
    grad = first_year - late
    x, m = divmod(x, 100)
    if m < 35:  # a master's degree, then the bachelor's before it
        education = '%s%04d", "end_date": "%04d"}, %s%04d", "end_date": "%04d"}' % (
            bank["masters"][m % 32], grad - 1, grad, bank["education"][e],
            grad - 5 - (e & 1), grad - 2)
    else:
        education = '%s%04d", "end_date": "%04d"}' % (
            bank["education"][e], grad - 3 - (e & 1), grad)
    x, s = divmod(x, 16)
    x, k = divmod(x, 64)
    x, lang = divmod(x, 32)
    x, c = divmod(x, 16)
    x, p = divmod(x, 64)
    if phone is None:
        phone = phones[p]
    if location is None:
        location = cities[p % len(cities)]
    return ('{"name": %s, "contact": {"email": %s, "phone": %s, "location": %s, '
            '"linkedin": "https://www.linkedin.com/in/%s-%04x"}, '
            '"summary": "%s with %d years of experience in %s. %s", "experience": [%s], '
            '"education": [%s], "skills": [%s], "languages": [%s], "certifications": [%s]}') % (
        name, email, phone, location, slug, x & 0xffff, title, years, bank["domain"],
        bank["summaries"][s], ", ".join(parts), education, bank["skills"][k], languages[lang],
        bank["certs"][c])


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
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{first}.{last}{i + 1}@example.com".lower().replace("'", "")
            phone = _phone(rng) if r() < PHONE_SHARE else None
            location = rng.choice(CITIES) if r() < LOCATION_SHARE else None
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
            self.user_persons.append(_person(first, last, email, phone, location))
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
                      stuck_jobs=0, uploads_without_hash=0, anonymous_uploads=0, anonymous_ids=0,
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
                cv_data = _cv_document(doc_seed, person, doc_month)
                counts["cache_hits"] += 1
            else:
                owner = None
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
                        user_id = "anonymous_" + new_uuid()
                        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                        email = (f"{first}.{last}{randrange(1, 100)}@example."
                                 f"{'net' if r() < 0.5 else 'org'}").lower().replace("'", "")
                        person = _person(first, last, email, None, None)
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
                elif r() < fail_rate[file_type]:
                    status = "failed"
                else:
                    status = "completed"
                file_hash = "%064x" % getrandbits(256) if hashed else None
                doc_seed = getrandbits(192)
                doc_month = int(when[:4]) * 12 + int(when[5:7]) - 1
                cv_data = (_cv_document(doc_seed, person, doc_month)
                           if status == "completed" else None)
                if status == "completed" and hashed and r() < CACHE_SHARE:
                    created = off + 2 + r() * 38
                    created_iso = ts(created)
                    if created < self.policy_change:
                        model = old_model(r())
                        u = r()
                        if u < 0.02:
                            confidence = None
                        elif u < 0.12:
                            confidence = round(0.45 + r() * 0.2499, 4)
                        elif u < 0.30:
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
