"""The demo's people and CV documents: names, places, career tracks and the bank of pre-rendered
JSON fragments a document is assembled from. Deterministic: the same bits give the same text."""
import json
import random


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
    phones = tuple(json.dumps(phone_number(rng)) for _ in range(64))
    cities = tuple(json.dumps(c) for c in CITIES)
    return tuple(banks), languages, phones, cities


_BANK = None


def _bank():
    global _BANK
    if _BANK is None:
        _BANK = _build_bank()
    return _BANK


def phone_number(rng):
    return rng.choice(PHONE_FORMATS).format(a=rng.randrange(100, 1000), b=rng.randrange(0, 10000),
                                            c=rng.randrange(100), d=rng.randrange(100))


def person(first, last, email, phone, location):
    """A CV's owner, JSON-escaped once: (first, last, name, email, phone, location, slug)."""
    return (first, last, json.dumps(f"{first} {last}"), json.dumps(email),
            None if phone is None else json.dumps(phone),
            None if location is None else json.dumps(location),
            f"{first}-{last}".lower().replace("'", ""))


def cv_document(bits, person, month_index):
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
