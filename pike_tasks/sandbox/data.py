"""Demo data for the sandbox: a believable delivery agency, generated from a seed.

Records are shaped exactly like the examples of the Pike Open API documentation (camelCase,
the same fields). Dates are relative to ``today`` so a demo always has overdue work, and
the workspace deliberately contains the awkward cases a real one has (unicode, HTML and
formula-like titles, nulls, dangling ids, an unknown status, ties), because reports must
survive them. The same seed and ``today`` always give the same workspace.
"""

from __future__ import annotations

import datetime
import random
import uuid
from collections.abc import Callable
from typing import Any, TypedDict

Record = dict[str, Any]
"""One API-shaped record: a JSON object with the camelCase fields the Pike API sends."""
Workspace = dict[str, list[Record]]
"""Records per resource: ``{"projects": [...], "tasks": [...], "customers": [...], "members": [...]}``."""


class WorkspaceSizes(TypedDict, total=False):
    """Record counts for :func:`generate_workspace` (its keyword arguments); a missing key keeps the default."""

    tasks: int
    projects: int
    members: int
    customers: int
    teams: int | None


class DemoTeam(TypedDict):
    """A team of the generated workspace, shaped like an entry of teams.example.yaml."""

    name: str
    managers: list[str]


DELIVERY = "91ab2c3d-4e5f-4a6b-8c1d-2c3d4e5f6a7b"
PLATFORM = "e5f6a7b8-c9d0-4123-e456-789abcdef012"
DESIGN = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
DATA = "5a6b7c8d-9e0f-4a1b-9c2d-3e4f5a6b7c8d"

DEMO_TEAMS: dict[str, DemoTeam] = {
    DELIVERY: {"name": "Delivery", "managers": ["delivery.lead@example.com"]},
    PLATFORM: {"name": "Platform", "managers": ["platform.lead@example.com"]},
    DESIGN: {"name": "Design", "managers": ["design.lead@example.com"]},
    # platform.lead manages two teams, so digests must merge per manager
    DATA: {"name": "Data", "managers": ["data.lead@example.com", "platform.lead@example.com"]},
}

# A team id no teams config knows about: reports must still show such tasks.
UNKNOWN_TEAM_ID = "0badc0de-0000-4000-8000-00000000f00d"

_TEAM_NAMESPACE = uuid.UUID("6d2f1c7e-3b8a-4c51-9e0d-7a4b2c1f9e35")
_TEAM_WORDS = ["Atlas", "Beacon", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper",
               "Kestrel", "Lumen", "Maple", "Nimbus", "Onyx", "Pioneer", "Quartz", "Raven", "Summit", "Tundra"]


def workspace_teams(teams: int | None = None) -> dict[str, DemoTeam]:
    """The teams a generated workspace spreads its projects and members over, as in ``DEMO_TEAMS``.

    ``None`` (the default): the four ``DEMO_TEAMS``. A count: the first demo teams (the awkward
    cases name Delivery and Data), then teams with ids derived from their number (not from the
    seed, so the other records are drawn as before), named ``Atlas 05`` and so on, each with
    one made-up manager address (a teams config of one's own can replace them).
    """
    if teams is None:
        return dict(DEMO_TEAMS)
    if teams < 1:
        raise ValueError(f"teams must be at least 1, not {teams}")
    out = dict(list(DEMO_TEAMS.items())[:teams])
    for i in range(len(out), teams):
        tid = str(uuid.uuid5(_TEAM_NAMESPACE, f"team-{i}"))
        out[tid] = {"name": f"{_TEAM_WORDS[i % len(_TEAM_WORDS)]} {i + 1:02d}",
                    "managers": [f"team{i + 1:02d}.lead@example.com"]}
    return out

_MANAGERS = [
    ("Maya Okafor", "delivery.lead@example.com", [DELIVERY], "admin"),
    ("Jonas Berg", "platform.lead@example.com", [PLATFORM, DATA], "admin"),
    ("Inès Laurent", "design.lead@example.com", [DESIGN], "member"),
    ("Kenji Watanabe", "data.lead@example.com", [DATA], "member"),
]

# (displayName or None, email, status, teamIds) -- always generated, in this order
_SPECIAL_MEMBERS = [
    (None, "pending.invite@example.com", "invited", []),
    ("Alex Kim", "alex.kim@example.com", "invited", [DELIVERY]),
    ("Zoë Ångström-Núñez", "zoe.angstrom@example.com", "active", [DESIGN]),
    ("李小龍", "li.xiaolong@example.com", "active", [PLATFORM]),
    ("محمد الأحمد", "mohammed.alahmad@example.com", "active", [DATA]),
    ("<b>Eve</b> O'Hara <script>alert(1)</script>", "eve.ohara@example.com", "active", [DELIVERY]),
    ("Former Contractor", "former.contractor@example.com", "inactive", [DELIVERY]),
    ("Sam Leaver", "sam.leaver@example.com", "inactive", [PLATFORM, DATA]),
]

_FIRST = ["Jane", "Oliver", "Amara", "Lucas", "Sofia", "Noah", "Freya", "Mateo", "Priya", "Elias",
          "Hannah", "Tomás", "Aisha", "Felix", "Chloe", "Ravi", "Ingrid", "Diego", "Mia", "Omar",
          "Lena", "Kofi", "Yuki", "Bruno", "Nora", "Arjun", "Ella", "Mikael", "Leila", "Finn"]
_LAST = ["Doe", "Hansen", "Mensah", "Rossi", "Novak", "Schmidt", "Patel", "García", "Larsen",
         "Nakamura", "Dubois", "Kowalski", "Okoye", "Silva", "Jensen", "Müller", "Byrne", "Haddad",
         "Lindqvist", "Costa", "Ivanova", "Chen", "Moreau", "Andersen", "Fischer", "Tanaka"]
_ASCII = str.maketrans("áàâäãåçéèêëíìîïñóòôöõøúùûüýÿ", "aaaaaaceeeeiiiinoooooouuuuyy")

# customerName, mainCurrency -- always generated first, in this order
_SPECIAL_CUSTOMERS = [
    ("Acme Corporation", "GBP"),
    ("Globex Nordic A/S", "DKK"),
    ("Café Øresund ApS", "DKK"),
    ("株式会社さくら工業", "JPY"),
    ("شركة النخيل للتجارة", "AED"),
    ("🚀 Rocket Retail GmbH", "EUR"),
    ('<img src=x onerror=alert(1)> Media "Group"', "USD"),
    ("=HYPERLINK(\"http://evil.example\";\"Formula Partners\")", "USD"),
]
_CUSTOMER_WORDS = ["Initech", "Umbrella", "Stark", "Wayne", "Nordlys", "Tyrell", "Hooli", "Vandelay",
                   "Soylent", "Wonka", "Cyberdyne", "Massive", "Oscorp", "Gringotts", "Pied Piper",
                   "Aperture", "Blue Sun", "Monarch", "Dunder", "Prestige", "Kensington", "Harbor",
                   "Lumen", "Meridian", "Northwind", "Contoso", "Fabrikam", "Litware", "Tailspin",
                   "Adventure Works", "Bluebird", "Helios", "Atlas", "Sterling", "Everest", "Coastal",
                   "Granite", "Orchid", "Polaris", "Quantum"]
_CUSTOMER_KINDS = ["Ltd", "Health", "Logistics", "Foods", "Energy", "Bank", "Insurance", "Retail",
                   "Labs", "Group", "Holdings", "Partners", "Media", "Travel", "Systems"]
_CURRENCIES = ["EUR", "EUR", "USD", "GBP", "DKK", "SEK", "NOK", "CHF"]

_PROJECT_KINDS = ["Phase 2 rollout", "Website relaunch", "Data platform migration", "Brand refresh",
                  "Mobile app MVP", "Analytics dashboard", "Support retainer", "Security audit",
                  "CRM integration", "Onboarding programme", "Checkout redesign", "Cloud cost review"]
# workspace-defined project status key -> fixed statusCategory bucket
_PROJECT_STATUSES = {"backlog": "backlog", "planned": "planned", "kickoff": "planned",
                     "inProgress": "inProgress", "uat": "inProgress", "onHold": "inProgress",
                     "completed": "completed", "cancelled": "cancelled"}
_PROJECT_STATUS_WEIGHTS = [1, 2, 1, 8, 2, 1, 2, 1]
_PHASES = ["Discovery", "Design", "Build", "Test", "Launch", "Hypercare"]

_TASK_TITLES = ["Configure SSO for {c}", "Review {c} contract renewal", "Migrate {c} DNS records",
                "Write release notes", "Fix login redirect loop", "QA pass on checkout flow",
                "Prepare sprint demo", "Update API documentation", "Set up staging environment",
                "Design onboarding emails", "Load test search endpoint", "Accessibility audit",
                "Invoice {c} for milestone", "Kick-off workshop with {c}", "Refine backlog",
                "Patch dependency vulnerabilities", "Build KPI dashboard", "Clean up feature flags",
                "Draft data retention policy", "Train {c} support staff", "Weekly status report",
                "Optimise image pipeline", "Map legacy fields", "Sign off wireframes"]
_DESCRIPTIONS = [None, None, "Plain text notes, no markup.", "<p>Enable SAML and test IdP metadata.</p>",
                 "<p>See the <a href=\"https://example.com/spec\">spec</a> and <strong>confirm</strong> scope.</p>",
                 "<ul><li>Collect logs</li><li>Reproduce</li><li>Fix</li></ul>",
                 "<p>Blocked on customer feedback.</p><p>Follow up on <em>Friday</em>.</p>"]
_STATUSES = ["toDo", "inProgress", "inReview", "backlog", "done", "cancelled", "duplicate"]
_STATUS_WEIGHTS = [25, 20, 8, 10, 25, 7, 5]
_PRIORITIES = ["urgent", "high", "medium", "low", "none", None]
_PRIORITY_WEIGHTS = [8, 20, 30, 20, 12, 10]
_ASSIGNEE_COUNTS = [0, 1, 2, 3]
_ASSIGNEE_WEIGHTS = [15, 55, 22, 8]
_BILLABLE = ["billable", "nonBillable", None]
_BILLABLE_WEIGHTS = [75, 20, 5]
_LABEL_COUNTS = [0, 0, 1, 1, 2]


def _uuid(rng: random.Random) -> str:
    """A UUID4-shaped id drawn from ``rng`` (not the OS), so ids are reproducible."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _timestamp(day: datetime.date, rng: random.Random) -> str:
    """An ISO 8601 UTC timestamp on ``day`` in office hours, in the API's millisecond format."""
    return f"{day.isoformat()}T{rng.randrange(7, 19):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.000Z"


class _Builder:
    """Holds the rng, today and the records built so far while generating one workspace."""

    def __init__(self, seed: int, today: datetime.date, teams: int | None = None) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - seeded on purpose: the same seed, the same workspace
        self.today = today
        self.team_ids = list(workspace_teams(teams))
        self.customers: list[Record] = []
        self.projects: list[Record] = []
        self.members: list[Record] = []
        self.tasks: list[Record] = []
        self.label_ids = [_uuid(self.rng) for _ in range(6)]

    def days_ago(self, low: int, high: int) -> datetime.date:
        return self.today - datetime.timedelta(days=self.rng.randint(low, high))

    # -- customers -------------------------------------------------------------------------
    def build_customers(self, count: int) -> None:
        names = list(_SPECIAL_CUSTOMERS)
        for i in range(max(0, count - len(names))):
            word = _CUSTOMER_WORDS[i % len(_CUSTOMER_WORDS)]
            kind = _CUSTOMER_KINDS[(i + i // len(_CUSTOMER_WORDS)) % len(_CUSTOMER_KINDS)]
            cycle = i // (len(_CUSTOMER_WORDS) * len(_CUSTOMER_KINDS))
            names.append((f"{word} {kind}" + (f" {cycle + 1}" if cycle else ""), self.rng.choice(_CURRENCIES)))
        for i, (name, currency) in enumerate(names[:count]):
            created = self.days_ago(200, 900)
            self.customers.append({
                "id": _uuid(self.rng),
                "customerName": name,
                "customerNumber": f"C-{10400 + i}",
                "taxVatId": None if i % 7 == 3 else f"{currency[:2]}{self.rng.randrange(10**8, 10**9)}",
                "mainCurrency": currency,
                "createdAt": _timestamp(created, self.rng),
                "updatedAt": _timestamp(self.days_ago(0, 150), self.rng),
            })

    # -- projects --------------------------------------------------------------------------
    def _project_title(self, i: int, customer: Record | None) -> str:
        kind = _PROJECT_KINDS[i % len(_PROJECT_KINDS)]
        if customer is None:
            return f"Internal — {kind}"
        return f"{customer['customerName']} — {kind}"

    def _phases(self, start: datetime.date) -> list[Record]:
        phases = []
        for name in _PHASES[: self.rng.randint(0, 3)]:
            end = start + datetime.timedelta(days=self.rng.randint(10, 40))
            phases.append({"id": _uuid(self.rng), "name": name,
                           "startDate": start.isoformat(), "endDate": end.isoformat()})
            start = end + datetime.timedelta(days=1)
        return phases

    def build_projects(self, count: int) -> None:
        teams = self.team_ids
        statuses = list(_PROJECT_STATUSES)
        for i in range(count):
            customer = self.customers[i % len(self.customers)] if self.customers else None
            if i == 1 or (i % 17 == 9):  # internal work: no customer, so billableStatus null
                customer = None
            team = None if i == 2 else teams[i % len(teams)]  # project 2: no team at all
            status = self.rng.choices(statuses, _PROJECT_STATUS_WEIGHTS)[0]
            created = self.days_ago(30, 400)
            title = self._project_title(i, customer)
            if i == 3:
                title = "Relaunch <script>alert('project')</script> & “smart quotes” ✨"
            self.projects.append({
                "id": _uuid(self.rng),
                "projectNumber": f"{created.year}-{101 + i:04d}",
                "title": title,
                "status": status,
                "statusCategory": _PROJECT_STATUSES[status],
                "teamId": team,
                "customerId": customer["id"] if customer else None,
                "description": None if i % 5 == 4 else "Delivery and training for regional offices.",
                "phases": self._phases(created),
                "createdAt": _timestamp(created, self.rng),
                "updatedAt": _timestamp(self.days_ago(0, 29), self.rng),
            })

    # -- members ---------------------------------------------------------------------------
    def _member(self, name: str | None, email: str, status: str, team_ids: list[str], role: str) -> Record:
        created = self.days_ago(1, 30) if status == "invited" else self.days_ago(60, 900)
        created_at = _timestamp(created, self.rng)
        updated = created + datetime.timedelta(days=self.rng.randint(0, (self.today - created).days))
        return {
            "id": _uuid(self.rng),
            "email": email,
            "displayName": name,
            "status": status,
            "workspaceRole": role,
            "teamIds": team_ids,
            "positionId": None if status == "invited" else _uuid(self.rng),
            "invitedAt": created_at if status == "invited" else None,
            "joinedAt": None if status == "invited" else created_at,
            "createdAt": created_at,
            "updatedAt": _timestamp(updated, self.rng),
        }

    def build_members(self, count: int) -> None:
        fixed: list[tuple[str | None, str, str, list[str], str]] = [(n, e, "active", t, r) for n, e, t, r in _MANAGERS]
        fixed += [(n, e, s, t, "member") for n, e, s, t in _SPECIAL_MEMBERS]
        teams = self.team_ids
        for i in range(max(0, count - len(fixed))):
            first, last = _FIRST[i % len(_FIRST)], _LAST[(i * 7 + i // len(_FIRST)) % len(_LAST)]
            email = f"{first}.{last}{i // 100 or ''}".lower().translate(_ASCII) + "@example.com"
            status = self.rng.choices(["active", "invited", "inactive"], [90, 4, 6])[0]
            team_ids = [teams[i % len(teams)]] + ([teams[(i + 1) % len(teams)]] if i % 9 == 0 else [])
            fixed.append((f"{first} {last}", email, status, [] if i % 23 == 22 else team_ids, "member"))
        for name, email, status, team_ids, role in fixed[:count]:
            self.members.append(self._member(name, email, status, team_ids, role))

    # -- tasks -----------------------------------------------------------------------------
    def _assignee_pools(self) -> dict[str | None, list[str]]:
        """Member ids per team (active and inactive: leavers keep their tasks), plus everyone."""
        pools: dict[str | None, list[str]] = {None: []}
        for m in self.members:
            if m["status"] == "invited":
                continue
            pools[None].append(m["id"])
            for team in m["teamIds"]:
                pools.setdefault(team, []).append(m["id"])
        return pools

    def _task(self, project: Record | None, pools: dict[str | None, list[str]],
              customers_by_id: dict[str, Record]) -> Record:
        rng = self.rng
        team = project["teamId"] if project else None
        customer_id: str | None = project["customerId"] if project else None
        due = None if rng.random() < 0.15 else self.today + datetime.timedelta(days=rng.randint(-60, 45))
        start = None if due is None or rng.random() < 0.2 else due - datetime.timedelta(days=rng.randint(0, 20))
        pool = pools.get(team) or pools[None]
        n_assignees = min(len(pool), rng.choices(_ASSIGNEE_COUNTS, _ASSIGNEE_WEIGHTS)[0])
        created = min(start or self.today, self.today) - datetime.timedelta(days=rng.randint(1, 60))
        customer = customers_by_id.get(customer_id) if customer_id is not None else None
        phases = project["phases"] if project else []
        return {
            "id": _uuid(rng),
            "title": rng.choice(_TASK_TITLES).format(c=customer["customerName"] if customer else "internal"),
            "description": rng.choice(_DESCRIPTIONS),
            "status": rng.choices(_STATUSES, _STATUS_WEIGHTS)[0],
            "priority": rng.choices(_PRIORITIES, _PRIORITY_WEIGHTS)[0],
            "projectId": project["id"] if project else None,
            "teamId": team,
            "assigneeIds": rng.sample(pool, n_assignees),
            "startDate": start.isoformat() if start else None,
            "dueDate": due.isoformat() if due else None,
            "billableStatus": rng.choices(_BILLABLE, _BILLABLE_WEIGHTS)[0] if customer_id else None,
            "customerId": customer_id,
            "phaseId": rng.choice(phases)["id"] if phases and rng.random() < 0.5 else None,
            "labelIds": rng.sample(self.label_ids, rng.choice(_LABEL_COUNTS)),
            "createdAt": _timestamp(created, rng),
            "updatedAt": _timestamp(
                created + datetime.timedelta(days=rng.randint(0, (self.today - created).days)), rng
            ),
        }

    def build_tasks(self, count: int) -> None:
        pools = self._assignee_pools()
        customers_by_id = {c["id"]: c for c in self.customers}
        projects = self.projects
        for _ in range(count):
            project = self.rng.choice(projects) if projects else None
            self.tasks.append(self._task(project, pools, customers_by_id))
        self._apply_awkward_cases()

    def _apply_awkward_cases(self) -> None:
        """Overwrite tasks spread evenly through the list with the awkward cases (as many as fit)."""
        cases = _awkward_cases(self)
        n = len(self.tasks)
        for k, patch in enumerate(cases[:n]):
            self.tasks[(k * n) // min(n, len(cases))].update(patch)


def _overdue(b: _Builder, days: int) -> str:
    return (b.today - datetime.timedelta(days=days)).isoformat()


def _project_where(b: _Builder, cond: Callable[[Record], bool]) -> Record | None:
    return next((p for p in b.projects if cond(p)), None)


def _on_project(project: Record | None) -> Record:
    """The fields a task inherits from its project (all None without a project)."""
    if project is None:
        return {"projectId": None, "teamId": None, "customerId": None, "billableStatus": None, "phaseId": None}
    return {"projectId": project["id"], "teamId": project["teamId"], "customerId": project["customerId"],
            "billableStatus": "billable" if project["customerId"] else None, "phaseId": None}


def _member_ids(b: _Builder, status: str) -> list[str]:
    return [m["id"] for m in b.members if m["status"] == status]


def _delivery_project(b: _Builder) -> Record | None:
    return _project_where(b, lambda p: p["teamId"] == DELIVERY and p["customerId"])


def _awkward_cases(b: _Builder) -> list[Record]:
    """Field overrides for tasks that reports must handle, most important first."""
    open_overdue = {"status": "toDo", "priority": "high"}
    tie = {**open_overdue, "title": "Weekly status report", "dueDate": _overdue(b, 10)}
    ties = [{**tie, **_on_project(_delivery_project(b))} for _ in range(3)]
    return [
        {**open_overdue, "title": "<script>alert(1)</script>", "dueDate": _overdue(b, 3)},
        {**open_overdue, "title": "<img src=x onerror=alert(1)>", "dueDate": _overdue(b, 12)},
        {**open_overdue, "title": "=HYPERLINK(\"http://evil.example\",\"click\")", "dueDate": _overdue(b, 4)},
        {**open_overdue, "title": "-2+3 budget check", "dueDate": _overdue(b, 5)},
        {**open_overdue, "title": "🚀 Launch checklist ✅ — café naïve façade", "dueDate": _overdue(b, 40)},
        {**open_overdue, "title": "設計レビュー（第２版）", "dueDate": _overdue(b, 8)},
        {**open_overdue, "title": "مراجعة التصميم النهائي", "dueDate": _overdue(b, 31)},
        {**open_overdue, "status": "inProgress", "dueDate": _overdue(b, 2),
                   "description": "<p>Allowed: <strong>bold</strong>, <em>em</em>, <a href=\"https://example.com\">link</a>"
                                  "</p><script>alert('x')</script><iframe src=\"https://evil.example\"></iframe>"
                                  "<p onclick=\"alert(2)\" style=\"color:red\">handler</p>"
                                  "<img src=x onerror=alert(3)>"},
        # team null on the task: reports fall back to the project's team
        {**open_overdue, **_on_project(_delivery_project(b)), "teamId": None, "dueDate": _overdue(b, 6)},
        # team null on task and project
        {**open_overdue, **_on_project(_project_where(b, lambda p: p["teamId"] is None)), "dueDate": _overdue(b, 7)},
        # no project at all
        {**open_overdue, **_on_project(None), "dueDate": _overdue(b, 9)},
        # customer null on the task: reports fall back to the project's customer
        {**open_overdue, **_on_project(_delivery_project(b)), "customerId": None, "dueDate": _overdue(b, 1)},
        # dangling references
        {**open_overdue, "assigneeIds": ["deadbeef-0000-4000-8000-000000000001"], "dueDate": _overdue(b, 11)},
        {**open_overdue, "projectId": "deadbeef-0000-4000-8000-000000000002", "teamId": DATA,
                   "customerId": None, "phaseId": None, "dueDate": _overdue(b, 13)},
        {**open_overdue, "customerId": "deadbeef-0000-4000-8000-000000000003", "billableStatus": "billable",
                   "dueDate": _overdue(b, 14)},
        {**open_overdue, "teamId": UNKNOWN_TEAM_ID, "dueDate": _overdue(b, 15)},
        {**open_overdue, "status": "blocked", "dueDate": _overdue(b, 16)},
        # leavers still holding open work, and a repeated assignee id
        {**open_overdue, "assigneeIds": _member_ids(b, "inactive")[:2], "dueDate": _overdue(b, 20)},
        {**open_overdue, "status": "inProgress", "assigneeIds": _member_ids(b, "inactive")[-1:], "dueDate": None},
        {**open_overdue, "assigneeIds": _member_ids(b, "active")[:1] * 2, "dueDate": _overdue(b, 18)},
        {**open_overdue, "assigneeIds": [], "priority": None, "dueDate": _overdue(b, 19)},
        {**open_overdue, "priority": "none", "dueDate": _overdue(b, 22)},
        {**open_overdue, "priority": "urgent", "dueDate": _overdue(b, 1)},
        {**open_overdue, "dueDate": b.today.isoformat()},
        {**open_overdue, "status": "done", "dueDate": _overdue(b, 30)},
        {**open_overdue, "status": "cancelled", "dueDate": _overdue(b, 30)},
        {**open_overdue, "status": "duplicate", "dueDate": _overdue(b, 30)},
        {**open_overdue, "title": "   Leading spaces,\ttab and\nnewline  ", "dueDate": _overdue(b, 21)},
        *ties,
    ]


def generate_workspace(
    seed: int = 42,
    today: datetime.date | None = None,
    *,
    tasks: int = 400,
    projects: int = 40,
    members: int = 30,
    customers: int = 15,
    teams: int | None = None,
) -> Workspace:
    """Generate a demo workspace.

    Args:
        seed: Seed of every random choice; with the same ``today`` the output is identical.
        today: Date the data is relative to (due dates around it); default ``date.today()``.
        tasks, projects, members, customers: Exact record counts. The awkward cases live in
            the first customers, projects and members and are spread through the tasks, so
            small sizes keep as many of them as fit.
        teams: How many teams projects and members are spread over (``workspace_teams``);
            None: the four ``DEMO_TEAMS``, the same records as before this option existed.

    Returns:
        ``{"projects": [...], "tasks": [...], "customers": [...], "members": [...]}`` of
        API-shaped records (projects include ``phases``, as in the retrieve example).
    """
    builder = _Builder(seed, today or datetime.date.today(), teams)
    builder.build_customers(customers)
    builder.build_projects(projects)
    builder.build_members(members)
    builder.build_tasks(tasks)
    return {"projects": builder.projects, "tasks": builder.tasks,
            "customers": builder.customers, "members": builder.members}


def day_before(data: Workspace, today: datetime.date) -> Workspace:
    """The same workspace as it stood the day before ``today``, so a demo can show what changed.

    Deterministic. Compared with that day, ``today``'s workspace has: tasks closed since (every
    third closed task that was overdue then was still open), tasks whose due date moved out
    (every fourth open task due in the coming days was overdue then), tasks deleted since (three
    overdue tasks that exist only the day before), and tasks reopened or newly overdue (every
    seventh open overdue task was done the day before; tasks due yesterday were not yet overdue).
    """
    yesterday = today - datetime.timedelta(days=1)
    closed = {"done", "cancelled", "duplicate"}
    tasks: list[Record] = []
    counters = {"closed": 0, "moved": 0, "reopened": 0}
    for task in data["tasks"]:
        task = dict(task)
        due = str(task.get("dueDate") or "")[:10]
        status = task.get("status")
        if status in closed and due and due < (yesterday.isoformat()):
            counters["closed"] += 1
            if counters["closed"] % 3 == 0:
                task["status"] = "inProgress"
        elif (status not in closed and due
              and today.isoformat() <= due <= (today + datetime.timedelta(days=5)).isoformat()):
            counters["moved"] += 1
            if counters["moved"] % 4 == 0:
                task["dueDate"] = (today - datetime.timedelta(days=3)).isoformat()
        elif status not in closed and due and due < yesterday.isoformat():
            counters["reopened"] += 1
            if counters["reopened"] % 7 == 0:
                task["status"] = "done"
        tasks.append(task)
    overdue_open = [t for t in data["tasks"] if t.get("status") not in closed
                    and str(t.get("dueDate") or "")[:10] and str(t.get("dueDate"))[:10] < yesterday.isoformat()]
    for n, task in enumerate(overdue_open[:3], start=1):
        tasks.append({**task, "id": f"00000000-0000-4000-8000-{n:012d}", "title": f"Retired: {task.get('title')}"})
    return {**data, "tasks": tasks}
