"""The deterministic spec-builder: an intent and its structured hints become a Spec, through fixed rules.

Every requirement, endpoint and acceptance criterion comes from the intent's hints. Nothing is invented:
an intent with only free text gets a spec that says what it does not know (open questions), and an
endpoint no hint explains stays a placeholder the verifier refuses (offline nothing would implement it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.intents import EndpointHint, FieldType, HttpMethod, Intent, OnDelete, ResourceHint, Storage
from pipeline.intents.hint_checks import route_shape
from pipeline.intents.hints import path_params, plural
from pipeline.spec import text
from pipeline.spec.behaviours import OPERATION_OF_KIND, behaviour_of
from pipeline.spec.blueprint import blueprint_goals, closest_goal
from pipeline.spec.describe import describe
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
    QueryBehaviour,
    RelatedBehaviour,
    Relation,
    SchemaField,
    Spec,
)

__all__ = ["BODY_LIMIT_KIB", "LIST_LIMIT", "build_offline", "plural"]

LIST_LIMIT = 1000
OPERATION_ROUTES = frozenset({(HttpMethod.GET, "/health"), (HttpMethod.GET, "/metrics")})
BODY_LIMIT_KIB = 64


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

    def routes(self) -> set[tuple[str, str]]:
        return {route_shape(ep.method.value, ep.path) for ep in self.endpoints}


def build_offline(intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
    """The deterministic spec for `intent`: same intent and blueprint, same spec."""
    draft = _Draft()
    entities = [_entity(r) for r in intent.resources]
    for resource in intent.resources:
        _resource_section(draft, resource, intent)
    for hint in intent.endpoints:
        # A free-text hint naming a route the spec already has (a CRUD route, /health, /metrics) is that
        # route described again: it adds nothing. (A hint that says what it does has a route of its own.)
        taken = draft.routes() | {route_shape(m.value, p) for m, p in OPERATION_ROUTES}
        if route_shape(hint.method.value, hint.path) not in taken:
            _hint_endpoint(draft, hint, intent)
    if not intent.has_structured_hints():
        draft.fr(text.purpose_requirement(intent.purpose))
    _operations(draft)
    spec = Spec(
        service_name=intent.service_name,
        title=text.title(intent.service_name),
        intent_path=intent_path,
        overview=_overview(intent),
        blueprint_trace=_trace(draft.frs, intent, blueprint),
        functional_requirements=draft.frs,
        endpoints=draft.endpoints,
        data_model=DataModel(storage=intent.storage, entities=entities),
        acceptance_criteria=draft.criteria,
        non_functional=_non_functional(),
        security=list(text.SECURITY),
        observability=list(text.OBSERVABILITY),
        deployment=Deployment(replicas=intent.replicas),
        dependencies=list(intent.dependencies),
        open_questions=_open_questions(intent, blueprint),
    )
    return _described(spec)


def _described(spec: Spec) -> Spec:
    """Each hinted endpoint's response, and its requirement, say what it does in the words SPEC.md shows."""
    words = {ep.id: describe(spec, ep) for ep in spec.endpoints if ep.behaviour is not None}
    endpoints = [
        ep.model_copy(update={"response": words[ep.id]}) if ep.id in words else ep for ep in spec.endpoints
    ]
    requirement_of = {ac.endpoint: ac.requirement for ac in reversed(spec.acceptance_criteria)}
    statements = {
        requirement_of[ep.id]: text.fr_behaviour(ep.method.value, ep.path, words[ep.id])
        for ep in spec.endpoints
        if ep.id in words and ep.operation != "related"
    }
    frs = [
        fr.model_copy(update={"statement": statements[fr.id]}) if fr.id in statements else fr
        for fr in spec.functional_requirements
    ]
    return spec.model_copy(update={"endpoints": endpoints, "functional_requirements": frs})


def _overview(intent: Intent) -> Overview:
    scope = [text.scope_line(r.name, plural(r.name)) for r in intent.resources]
    scope += [
        text.scope_relation(plural(r.name), relation.resource)
        for r in intent.resources
        for relation in r.belongs_to
    ]
    scope += [
        f"{h.method.value} {h.path}: {h.summary or text.kind_summary(h.kind)}" for h in intent.endpoints
    ]
    scope += [text.SCOPE_OPERATIONS]
    return Overview(goal=intent.purpose, scope=scope, out_of_scope=list(text.OUT_OF_SCOPE))


def _entity(resource: ResourceHint) -> Entity:
    required = resource.all_required()
    fields = [
        SchemaField(name=name, type=kind, required=name in required)
        for name, kind in resource.all_fields().items()
    ]
    relations = [
        Relation(parent=r.resource, field=r.field, on_delete=r.on_delete) for r in resource.belongs_to
    ]
    seed = [dict(row) for row in resource.seed]
    return Entity(name=resource.name, fields=fields, relations=relations, seed=seed)


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

    @staticmethod
    def not_text() -> ErrorCase:
        return ErrorCase(status=400, when=text.NOT_TEXT)


def _resource_section(draft: _Draft, hint: ResourceHint, intent: Intent) -> None:
    """CRUD for one resource: a requirement, an endpoint and its acceptance criteria per operation; then
    what its relations, seed rows and URL fields promise."""
    resource = _Resource(hint)
    create = _create(draft, resource)
    listing = _list(draft, resource)
    get_endpoint = _get(draft, resource)
    _update(draft, resource)
    delete = _delete(draft, resource)
    if intent.storage is Storage.SQLITE:
        fr = draft.fr(text.fr_persist(resource.many))
        draft.ac(fr, get_endpoint, "persist", *text.ac_persist(resource.name))
    for name, kind in hint.fields.items():
        if kind is FieldType.URL:
            fr = draft.fr(text.fr_url(resource.name, name))
            draft.ac(fr, create, "create_bad_url", *text.ac_bad_url(resource.name, name))
    for relation in hint.belongs_to:
        fr = draft.fr(text.fr_relation(resource.name, relation.field, relation.resource))
        draft.ac(fr, create, "relation_refused", *text.ac_relation_refused(resource.name, relation.resource))
    children = [(r, rel) for r in intent.resources for rel in r.belongs_to if rel.resource == hint.name]
    for child, relation in children:
        cascade = relation.on_delete is OnDelete.CASCADE
        fr = draft.fr(text.fr_parent_delete(resource.name, plural(child.name), cascade))
        draft.ac(
            fr, delete, "relation_delete", *text.ac_parent_delete(resource.name, plural(child.name), cascade)
        )
    if hint.seed:
        fr = draft.fr(text.fr_seed(resource.many, len(hint.seed)))
        draft.ac(fr, listing, "seeded", *text.ac_seeded(resource.many, len(hint.seed)))
    for relation in hint.belongs_to:
        _related(draft, resource, relation.resource, relation.field)


def _create(draft: _Draft, r: _Resource) -> str:
    fields = _entity(r.hint).fields
    required = r.hint.all_required()
    fr = draft.fr(text.fr_create(r.name, required))
    ep = draft.endpoint(
        method=HttpMethod.POST,
        path=f"/{r.many}",
        summary=f"Create a {r.name}.",
        resource=r.name,
        operation="create",
        request=fields,
        response=f"the created {r.name} with its id",
        success_status=201,
        errors=[r.invalid(), r.too_large(), r.not_text()],
    )
    draft.ac(fr, ep, "create_ok", *text.ac_create_ok(r.name))
    if required:
        draft.ac(fr, ep, "create_missing_required", *text.ac_missing_required(r.name, required[0]))
    draft.ac(fr, ep, "create_wrong_type", *text.ac_wrong_type(r.name, fields[0].name))
    draft.ac(fr, ep, "create_too_large", *text.ac_too_large(r.name, BODY_LIMIT_KIB))
    return ep


def _list(draft: _Draft, r: _Resource) -> str:
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
    return ep


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
        errors=[r.not_found(), r.invalid(), r.too_large(), r.not_text()],
    )
    draft.ac(fr, ep, "update_ok", *text.ac_update_ok(r.name))
    draft.ac(fr, ep, "update_missing", *text.ac_missing(r.name, "PATCH"))


def _delete(draft: _Draft, r: _Resource) -> str:
    fr = draft.fr(text.fr_delete(r.name))
    errors = [r.not_found()]
    ep = draft.endpoint(
        method=HttpMethod.DELETE,
        path=r.item,
        summary=f"Delete a {r.name}.",
        resource=r.name,
        operation="delete",
        response="no content",
        success_status=204,
        errors=errors,
    )
    draft.ac(fr, ep, "delete_ok", *text.ac_delete_ok(r.name))
    draft.ac(fr, ep, "delete_missing", *text.ac_missing(r.name, "DELETE"))
    return ep


def _related(draft: _Draft, child: _Resource, parent: str, link: str) -> None:
    """GET /<parents>/{id}/<children>: the children of one parent."""
    fr = draft.fr(text.fr_related(child.many, parent))
    ep = draft.endpoint(
        method=HttpMethod.GET,
        path=f"/{plural(parent)}/{{id}}/{child.many}",
        summary=f"List the {child.many} of a {parent}.",
        resource=child.name,
        operation="related",
        behaviour=RelatedBehaviour(parent=parent, field=link),
        response="",
        errors=[ErrorCase(status=404, when=f"no {parent} has the given id")],
    )
    draft.ac(fr, ep, "related_ok", *text.ac_related(child.many, parent))
    draft.ac(fr, ep, "related_missing", *text.ac_missing(parent, "GET"))


def _hint_endpoint(draft: _Draft, hint: EndpointHint, intent: Intent) -> None:
    if hint.kind is None:
        _free_text_endpoint(draft, hint, intent)
        return
    resource = next(
        (r for r in intent.resources if hint.behaviour and r.name == hint.behaviour.resource), None
    )
    datetimes = frozenset(
        name
        for name, kind in (resource.all_fields() if resource else {}).items()
        if kind is FieldType.DATETIME
    )
    behaviour = behaviour_of(hint, datetimes)
    operation = OPERATION_OF_KIND[hint.kind]
    status = hint.redirect.status if hint.redirect is not None else 200
    summary = hint.summary or text.kind_summary(hint.kind)
    fr = draft.fr(text.fr_custom(hint.method.value, hint.path, summary))  # worded by `_described`
    ep = draft.endpoint(
        method=hint.method,
        path=hint.path,
        summary=summary,
        resource=resource.name if resource else None,
        operation=operation,
        behaviour=behaviour,
        response="",
        success_status=status,
        errors=_hint_errors(hint, behaviour),
    )
    for check in _hint_checks(operation, behaviour):
        draft.ac(
            fr,
            ep,
            check,
            *text.ac_hint(check, hint.method.value, hint.path, resource.name if resource else ""),
        )


def _hint_errors(hint: EndpointHint, behaviour: object) -> list[ErrorCase]:
    errors = [ErrorCase(status=405, when=f"the method is not {hint.method.value}")]
    if hint.kind in {"action", "redirect"} or (isinstance(behaviour, QueryBehaviour) and behaviour.single):
        errors.append(ErrorCase(status=404, when="no row matches the path"))
    if isinstance(behaviour, QueryBehaviour) and not behaviour.single:
        errors.append(ErrorCase(status=422, when="limit or offset is not a number in range"))
    if hint.kind == "redirect":
        errors.append(ErrorCase(status=409, when=text.STORED_URL))
    return errors


def _hint_checks(operation: str, behaviour: object) -> list[str]:
    if isinstance(behaviour, QueryBehaviour):
        return ["query_ok", "query_missing"] if behaviour.single else ["query_ok", "query_page"]
    return {
        "aggregate": ["aggregate_ok"],
        "action": ["action_ok", "action_missing"],
        "redirect": ["redirect_ok", "redirect_missing"],
        "static": ["static_ok"],
    }[operation]


def _free_text_endpoint(draft: _Draft, hint: EndpointHint, intent: Intent) -> None:
    operation = _legacy_operation(hint)
    summary = hint.summary or text.NO_SUMMARY
    fr = draft.fr(text.fr_custom(hint.method.value, hint.path, summary))
    errors = [ErrorCase(status=405, when=f"the method is not {hint.method.value}")]
    if operation in {"get", "delete"}:
        errors.append(ErrorCase(status=404, when="nothing matches the path parameters"))
    if hint.method in {HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH}:
        errors.append(ErrorCase(status=422, when="the body is not a valid JSON object"))
        errors.append(ErrorCase(status=400, when=text.NOT_TEXT))
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
    check = {"get": "get_missing", "delete": "delete_missing"}.get(operation, "")
    draft.ac(fr, ep, check, *text.ac_custom(hint.method.value, hint.path, bool(check)))


def _legacy_operation(hint: EndpointHint) -> str:
    """What a hint naming only a resource asks for (the rest needs a model: 'custom')."""
    if hint.resource is None:
        return "custom"
    with_id = bool(path_params(hint.path))
    return {
        (HttpMethod.GET, False): "list",
        (HttpMethod.GET, True): "get",
        (HttpMethod.POST, False): "create",
        (HttpMethod.DELETE, True): "delete",
    }.get((hint.method, with_id), "custom")


def _operations(draft: _Draft) -> None:
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
