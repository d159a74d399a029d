"""The Pike Open API's records as the API documents them (camelCase, as received), for type hints.

``total=False`` and nothing checked at run time: the client hands records on as parsed JSON, a
key may be missing and a value may have another type (pike_tasks/frames.py copies with both and
turns each listing into typed columns). Ids and timestamps (ISO 8601, UTC) are strings; dates
are ``YYYY-MM-DD`` strings.
"""

from __future__ import annotations

from typing import TypedDict


class Phase(TypedDict, total=False):
    """A project phase (``Project.phases``, on a single project)."""

    id: str
    name: str
    startDate: str | None
    endDate: str | None


class Project(TypedDict, total=False):
    """``GET /projects`` item (scope projects:read)."""

    id: str
    projectNumber: str
    title: str
    status: str  # workspace-defined status key
    statusCategory: str  # backlog, planned, inProgress, completed, cancelled
    teamId: str | None
    customerId: str | None
    description: str | None
    phases: list[Phase]  # on GET /projects/{projectId}
    createdAt: str
    updatedAt: str


class Task(TypedDict, total=False):
    """``GET /tasks`` item (scope tasks:read)."""

    id: str
    title: str
    description: str | None  # HTML
    status: str  # toDo, inProgress, inReview, done, cancelled, duplicate, backlog
    priority: str  # none, low, medium, high, urgent
    projectId: str | None
    teamId: str | None  # None: the project's team applies
    assigneeIds: list[str]
    startDate: str | None
    dueDate: str | None
    billableStatus: str | None  # billable, nonBillable; None when the project has no customer
    customerId: str | None
    phaseId: str | None
    labelIds: list[str]
    createdAt: str
    updatedAt: str


class Customer(TypedDict, total=False):
    """``GET /customers`` item (scope customers:read)."""

    id: str
    customerName: str
    customerNumber: str
    taxVatId: str | None
    mainCurrency: str  # ISO 4217
    createdAt: str
    updatedAt: str


class Member(TypedDict, total=False):
    """``GET /members`` item (scope members:read): users and invitations."""

    id: str
    email: str
    displayName: str | None
    status: str  # active, invited, inactive
    workspaceRole: str  # admin, member, ...
    teamIds: list[str]
    positionId: str | None
    invitedAt: str | None
    joinedAt: str | None
    createdAt: str
    updatedAt: str
