"""The deterministic spec-builder: an intent and its structured hints become a Spec, through fixed rules.

Every requirement, endpoint and acceptance criterion comes from the intent's hints. Nothing is invented:
an intent with only free text gets a spec that says what it does not know (open questions), and the
verifier scores it for what it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.intents import EndpointHint, HttpMethod, Intent, ResourceHint, Storage
from pipeline.spec import text
from pipeline.spec.blueprint import blueprint_goals, closest_goal
from pipeline.spec.model import (
    AcceptanceCriterion,
    BlueprintTrace,
    DataModel,
    Deployment,
    Endpoint,
    Entity,
    ErrorCase,
    FunctionalRequirement,
    NfrCategory,
    NonFunctional,
    Overview,
    SchemaField,
    Spec,
)

LIST_LIMIT = 1000
OPERATION_ROUTES = frozenset({(HttpMethod.GET, "/health"), (HttpMethod.GET, "/metrics")})
BODY_LIMIT_KIB = 64


def plural(name: str) -> str:
    if re.search(r"[^aeiou]y$", name):
        return name[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", name):
        return name + "es"
    return name + "s"


@dataclass
class _Draft:
    """Collects numbered items while the spec is assembled."""

    frs: list[FunctionalRequirement] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    criteria: list[AcceptanceCriterion] = field(default_factory=list)

    def fr(self, statement: str) -> str:
        ident = f"FR-{len(self.frs) + 1:03d}"
        self.frs.append(FunctionalRequirement(id=ident, statement=statement))
        return ident

    def endpoint(self, **values: object) -> str:
        ident = f"EP-{len(self.endpoints) + 1:03d}"
        self.endpoints.append(Endpoint.model_validate({"id": ident, **values}))
        return ident

    def ac(self, requirement: str, endpoint: str, check: str, given: str, when: str, then: str) -> None:
        ident = f"AC-{len(self.criteria) + 1:03d}"
        self.criteria.append(
            AcceptanceCriterion(
                id=ident,
                requirement=requirement,
                endpoint=endpoint,
                given=given,
                when=when,
                then=then,
                check=check,
            )
        )


def build_offline(intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
    """The deterministic spec for `intent`: same intent and blueprint, same spec."""
    draft = _Draft()
    for resource in intent.resources:
        _resource_section(draft, resource, intent.storage)
    for hint in intent.endpoints:
        # A hint naming a route the spec already has (a CRUD route, /health, /metrics) adds nothing new.
        taken = {(ep.method, ep.path) for ep in draft.endpoints} | OPERATION_ROUTES
        if (hint.method, hint.path) not in taken:
            _custom_endpoint(draft, hint, intent)
    if not intent.has_structured_hints():
        draft.fr(text.purpose_requirement(intent.purpose))
    _operations(draft, intent)
    return Spec(
        service_name=intent.service_name,
        title=text.title(intent.service_name),
        intent_path=intent_path,
        overview=_overview(intent),
        blueprint_trace=_trace(draft.frs, intent, blueprint),
        functional_requirements=draft.frs,
        endpoints=draft.endpoints,
        data_model=DataModel(storage=intent.storage, entities=[_entity(r) for r in intent.resources]),
        acceptance_criteria=draft.criteria,
        non_functional=_non_functional(),
        security=list(text.SECURITY),
        observability=list(text.OBSERVABILITY),
        deployment=Deployment(),
        dependencies=list(intent.dependencies),
        open_questions=_open_questions(intent, blueprint),
    )


def _overview(intent: Intent) -> Overview:
    scope = [text.scope_line(r.name, plural(r.name)) for r in intent.resources]
    scope += [f"{h.method.value} {h.path}: {h.summary or text.NO_SUMMARY}" for h in intent.endpoints]
    scope += [text.SCOPE_OPERATIONS]
    return Overview(goal=intent.purpose, scope=scope, out_of_scope=list(text.OUT_OF_SCOPE))


def _entity(resource: ResourceHint) -> Entity:
    fields = [
        SchemaField(name=name, type=kind, required=name in resource.required)
        for name, kind in resource.fields.items()
    ]
    return Entity(name=resource.name, fields=fields)


@dataclass(frozen=True)
class _Resource:
    """One resource's names and the error cases its endpoints share."""

    hint: ResourceHint

    @property
    def name(self) -> str:
        return self.hint.name

    @property
    def many(self) -> str:
        return plural(self.hint.name)

    @property
    def item(self) -> str:
        return f"/{self.many}/{{id}}"

    def not_found(self) -> ErrorCase:
        return ErrorCase(status=404, when=f"no {self.name} has the given id")

    def invalid(self) -> ErrorCase:
        return ErrorCase(status=422, when=text.INVALID_BODY.format(name=self.name))

    @staticmethod
    def too_large() -> ErrorCase:
        return ErrorCase(status=413, when=text.TOO_LARGE.format(limit=BODY_LIMIT_KIB))


def _resource_section(draft: _Draft, hint: ResourceHint, storage: Storage) -> None:
    """CRUD for one resource: a requirement, an endpoint and its acceptance criteria per operation."""
    resource = _Resource(hint)
    _create(draft, resource)
    _list(draft, resource)
    get_endpoint = _get(draft, resource)
    _update(draft, resource)
    _delete(draft, resource)
    if storage is Storage.SQLITE:
        fr = draft.fr(text.fr_persist(resource.many))
        draft.ac(fr, get_endpoint, "persist", *text.ac_persist(resource.name))


def _create(draft: _Draft, r: _Resource) -> None:
    fields = _entity(r.hint).fields
    fr = draft.fr(text.fr_create(r.name, r.hint.required))
    ep = draft.endpoint(
        method=HttpMethod.POST,
        path=f"/{r.many}",
        summary=f"Create a {r.name}.",
        resource=r.name,
        operation="create",
        request=fields,
        response=f"the created {r.name} with its id",
        success_status=201,
        errors=[r.invalid(), r.too_large()],
    )
    draft.ac(fr, ep, "create_ok", *text.ac_create_ok(r.name))
    if r.hint.required:
        draft.ac(fr, ep, "create_missing_required", *text.ac_missing_required(r.name, r.hint.required[0]))
    draft.ac(fr, ep, "create_wrong_type", *text.ac_wrong_type(r.name, fields[0].name))
    draft.ac(fr, ep, "create_too_large", *text.ac_too_large(r.name, BODY_LIMIT_KIB))


def _list(draft: _Draft, r: _Resource) -> None:
    fr = draft.fr(text.fr_list(r.many, LIST_LIMIT))
    ep = draft.endpoint(
        method=HttpMethod.GET,
        path=f"/{r.many}",
        summary=f"List {r.many}.",
        resource=r.name,
        operation="list",
        response=f"a JSON list of {r.many}, oldest first, at most {LIST_LIMIT}",
        errors=[ErrorCase(status=405, when="the method is not GET or POST")],
    )
    draft.ac(fr, ep, "list_ok", *text.ac_list(r.many))


def _get(draft: _Draft, r: _Resource) -> str:
    fr = draft.fr(text.fr_get(r.name))
    ep = draft.endpoint(
        method=HttpMethod.GET,
        path=r.item,
        summary=f"Read one {r.name}.",
        resource=r.name,
        operation="get",
        response=f"the {r.name}",
        errors=[r.not_found()],
    )
    draft.ac(fr, ep, "get_ok", *text.ac_get_ok(r.name))
    draft.ac(fr, ep, "get_missing", *text.ac_missing(r.name, "GET"))
    return ep


def _update(draft: _Draft, r: _Resource) -> None:
    optional = [f.model_copy(update={"required": False}) for f in _entity(r.hint).fields]
    fr = draft.fr(text.fr_update(r.name))
    ep = draft.endpoint(
        method=HttpMethod.PATCH,
        path=r.item,
        summary=f"Change some fields of a {r.name}.",
        resource=r.name,
        operation="update",
        request=optional,
        response=f"the updated {r.name}",
        errors=[r.not_found(), r.invalid(), r.too_large()],
    )
    draft.ac(fr, ep, "update_ok", *text.ac_update_ok(r.name))
    draft.ac(fr, ep, "update_missing", *text.ac_missing(r.name, "PATCH"))


def _delete(draft: _Draft, r: _Resource) -> None:
    fr = draft.fr(text.fr_delete(r.name))
    ep = draft.endpoint(
        method=HttpMethod.DELETE,
        path=r.item,
        summary=f"Delete a {r.name}.",
        resource=r.name,
        operation="delete",
        response="no content",
        success_status=204,
        errors=[r.not_found()],
    )
    draft.ac(fr, ep, "delete_ok", *text.ac_delete_ok(r.name))
    draft.ac(fr, ep, "delete_missing", *text.ac_missing(r.name, "DELETE"))


def _custom_endpoint(draft: _Draft, hint: EndpointHint, intent: Intent) -> None:
    operation = _custom_operation(hint)
    summary = hint.summary or text.NO_SUMMARY
    fr = draft.fr(text.fr_custom(hint.method.value, hint.path, summary))
    errors = [ErrorCase(status=405, when=f"the method is not {hint.method.value}")]
    if operation in {"get", "delete"}:
        errors.append(ErrorCase(status=404, when="nothing matches the path parameters"))
    if hint.method in {HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH}:
        errors.append(ErrorCase(status=422, when="the body is not a valid JSON object"))
    resource = next((r for r in intent.resources if r.name == hint.resource), None)
    ep = draft.endpoint(
        method=hint.method,
        path=hint.path,
        summary=summary,
        resource=hint.resource,
        operation=operation,
        request=_entity(resource).fields if resource and operation == "create" else [],
        response=text.custom_response(operation, hint.resource),
        success_status=201 if operation == "create" else 204 if operation == "delete" else 200,
        errors=errors,
    )
    missing = operation in {"get", "delete"}
    check = "custom_missing" if missing else "custom_ok"
    draft.ac(fr, ep, check, *text.ac_custom(hint.method.value, hint.path, missing))


def _custom_operation(hint: EndpointHint) -> str:
    """What the offline template implements for an endpoint beyond CRUD (the rest needs a model)."""
    if hint.resource is None:
        return "custom"
    with_id = "{" in hint.path
    return {
        (HttpMethod.GET, False): "list",
        (HttpMethod.GET, True): "get",
        (HttpMethod.POST, False): "create",
        (HttpMethod.DELETE, True): "delete",
    }.get((hint.method, with_id), "custom")


def _operations(draft: _Draft, intent: Intent) -> None:
    fr = draft.fr(text.FR_HEALTH)
    ep = health = draft.endpoint(
        method=HttpMethod.GET,
        path="/health",
        summary="Report liveness and storage health.",
        operation="health",
        response='{"status": "ok", "service": name, "version": version}',
        errors=[ErrorCase(status=503, when="the storage cannot be reached")],
    )
    draft.ac(fr, ep, "health_ok", *text.AC_HEALTH)
    fr = draft.fr(text.FR_METRICS)
    ep = draft.endpoint(
        method=HttpMethod.GET,
        path="/metrics",
        summary="Prometheus metrics.",
        operation="metrics",
        response="Prometheus text exposition format",
        errors=[ErrorCase(status=405, when="the method is not GET")],
    )
    draft.ac(fr, ep, "metrics_ok", *text.AC_METRICS)
    fr = draft.fr(text.FR_REGISTER)
    ep = health
    draft.ac(fr, ep, "registers", *text.AC_REGISTER)
    draft.ac(fr, ep, "registry_down", *text.AC_REGISTRY_DOWN)


def _trace(frs: list[FunctionalRequirement], intent: Intent, blueprint: str) -> list[BlueprintTrace]:
    goals = blueprint_goals(blueprint)
    goal = closest_goal(goals, f"{intent.blueprint_context} {intent.purpose}") if goals else None
    if goal is None:
        goal = intent.blueprint_context or text.NO_GOAL
    return [BlueprintTrace(requirement=fr.id, goal=goal) for fr in frs]


def _non_functional() -> list[NonFunctional]:
    return [
        NonFunctional(
            id="NFR-001", category=NfrCategory.LATENCY, statement=text.NFR_LATENCY, target=200, unit="ms"
        ),
        NonFunctional(
            id="NFR-002",
            category=NfrCategory.AVAILABILITY,
            statement=text.NFR_AVAILABILITY,
            target=99.5,
            unit="%",
        ),
        NonFunctional(
            id="NFR-003",
            category=NfrCategory.LIMITS,
            statement=text.NFR_BODY.format(limit=BODY_LIMIT_KIB),
            target=BODY_LIMIT_KIB,
            unit="KiB",
        ),
        NonFunctional(
            id="NFR-004",
            category=NfrCategory.LIMITS,
            statement=text.NFR_LIST.format(limit=LIST_LIMIT),
            target=LIST_LIMIT,
            unit="items",
        ),
    ]


def _open_questions(intent: Intent, blueprint: str) -> list[str]:
    questions = []
    if not intent.has_structured_hints():
        questions += [text.Q_RESOURCES, text.Q_ENDPOINTS]
    if not intent.blueprint_context and not blueprint_goals(blueprint):
        questions.append(text.Q_GOAL)
    return questions[:3]
