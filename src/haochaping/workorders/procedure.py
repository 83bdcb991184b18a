"""The bad-review procedure as data (F1-F5): states, actions, who takes each, where it leads.

One table serves every profile. The profile decides which optional steps exist (the head's
approval, the office's verification, the leader's review, the report to the upper office, the
explanation path), who verifies and who tells the rater, who decides an appeal, and each step's
deadline. Anything not in the table is refused with ``IllegalTransition``.

RA (seed 004) is the fullest path:

    registered --transfer--> verifying --verify(true)--> rectifying --submit_report-->
    head_review --approve_report--> office_check --confirm--> leader_review --leader_approve-->
    reporting --report_upward--> feedback --send_feedback--> revisit --record_revisit--> closed
                                                   (rater not satisfied: back to rectifying)
    verifying --verify(mistaken/malicious/objective)--> appeal_pending --file_appeal-->
    appeal_check --check_appeal--> appeal_leader --approve_appeal--> appeal_decision
    --decide_appeal(upheld)--> revoked        (any refusal on the way: back to rectifying)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from haochaping.errors import Conflict
from haochaping.policy.schemas import Duration, Party, WorkOrderPolicy


class State(StrEnum):
    registered = "registered"
    verifying = "verifying"
    rectifying = "rectifying"
    head_review = "head_review"
    office_check = "office_check"
    leader_review = "leader_review"
    reporting = "reporting"
    feedback = "feedback"
    revisit = "revisit"
    closed = "closed"
    appeal_pending = "appeal_pending"
    appeal_check = "appeal_check"
    appeal_leader = "appeal_leader"
    appeal_decision = "appeal_decision"
    revoked = "revoked"


STATE_LABELS: dict[State, str] = {
    State.registered: "待转办",
    State.verifying: "待回访核实",
    State.rectifying: "整改中",
    State.head_review: "待窗口负责人审阅",
    State.office_check: "待政管办核实整改",
    State.leader_review: "待分管领导审阅",
    State.reporting: "待报送上级",
    State.feedback: "待反馈评价人",
    State.revisit: "待回访评价人",
    State.closed: "已办结",
    State.appeal_pending: "待提交申诉",
    State.appeal_check: "申诉待核查",
    State.appeal_leader: "申诉待分管领导审阅",
    State.appeal_decision: "申诉待上级复核",
    State.revoked: "已撤销差评",
}

FINAL_STATES = frozenset({State.closed, State.revoked})


class Actor(StrEnum):
    """The capacity in which an official takes a step."""

    # 政务服务管理办公室 of a region containing the order.
    office = "office"
    # The responsible window: its clerk, or its organisation's manager.
    window = "window"
    # The window's head (负责人): the organisation's manager.
    head = "head"
    # 分管领导 of a region containing the order.
    leader = "leader"
    # The office above the order's region (RA: 柳州市政务服务监督管理办公室).
    upper_office = "upper_office"
    # The sweeper and the intake.
    system = "system"


ACTOR_LABELS: dict[Actor, str] = {
    Actor.office: "政务服务管理办公室",
    Actor.window: "责任窗口",
    Actor.head: "窗口负责人",
    Actor.leader: "分管领导",
    Actor.upper_office: "上级政务服务管理办公室",
    Actor.system: "系统",
}


class Action(StrEnum):
    transfer = "transfer"
    verify = "verify"
    submit_report = "submit_report"
    defer = "defer"
    explain = "explain"
    approve_report = "approve_report"
    return_report = "return_report"
    confirm_rectification = "confirm_rectification"
    reject_rectification = "reject_rectification"
    leader_approve = "leader_approve"
    leader_return = "leader_return"
    report_upward = "report_upward"
    send_feedback = "send_feedback"
    record_revisit = "record_revisit"
    file_appeal = "file_appeal"
    withdraw_appeal = "withdraw_appeal"
    check_appeal = "check_appeal"
    approve_appeal = "approve_appeal"
    decide_appeal = "decide_appeal"


ACTION_LABELS: dict[Action, str] = {
    Action.transfer: "登记并转办",
    Action.verify: "回访核实",
    Action.submit_report: "提交调查整改报告",
    Action.defer: "无法按期整改：说明理由并建立台账",
    Action.explain: "无法定依据：解释说明",
    Action.approve_report: "审阅通过整改报告",
    Action.return_report: "退回整改报告",
    Action.confirm_rectification: "核实整改落实",
    Action.reject_rectification: "整改未落实，退回",
    Action.leader_approve: "分管领导审阅通过",
    Action.leader_return: "分管领导退回",
    Action.report_upward: "报送上级",
    Action.send_feedback: "告知评价人整改结果",
    Action.record_revisit: "记录回访结果",
    Action.file_appeal: "提交申诉撤销材料",
    Action.withdraw_appeal: "不申诉，转入整改",
    Action.check_appeal: "核查申诉",
    Action.approve_appeal: "分管领导审阅申诉",
    Action.decide_appeal: "上级复核申诉",
}


class IllegalTransition(Conflict):
    """An action the procedure does not allow in the order's state (or under its profile)."""

    def __init__(self, action: str, state: str) -> None:
        state_label = STATE_LABELS[State(state)] if state in State.__members__ else state
        action_label = ACTION_LABELS[Action(action)] if action in Action.__members__ else action
        super().__init__(
            "illegal_transition",
            f"工单当前为“{state_label}”，不能执行“{action_label}”",
            details={"action": action, "state": state},
        )


@dataclass(frozen=True)
class Step:
    """The deadline rule of a state: which profile key, counted from which moment."""

    rule: str | None
    # "received" (the order's receipt), "transferred" (the transfer to the window) or "entered"
    # (this stay in the state began).
    anchor: str


# F5: RA counts the window's report from the transfer (Art.5), the report to the city from the
# receipt (附件3 "自收到差评办件的4个工作日内"), the appeal from the verification (Art.9).
STEPS: dict[State, Step] = {
    State.registered: Step("registration", "received"),
    State.verifying: Step("verify", "received"),
    State.rectifying: Step("rectify", "transferred"),
    State.head_review: Step("report", "transferred"),
    State.office_check: Step("report_upward", "received"),
    State.leader_review: Step("report_upward", "received"),
    State.reporting: Step("report_upward", "received"),
    State.feedback: Step(None, "entered"),
    State.revisit: Step(None, "entered"),
    State.appeal_pending: Step("appeal", "entered"),
    State.appeal_check: Step("appeal_review", "appeal_filed"),
    State.appeal_leader: Step("appeal_review", "appeal_filed"),
    State.appeal_decision: Step("appeal_review", "appeal_filed"),
}


def step_duration(policy: WorkOrderPolicy, state: State) -> Duration | None:
    """The profile's deadline for a state; the verification step takes the tighter of the
    verification and revisit deadlines when both are set (RA, ZZ: both on the same day)."""
    step = STEPS.get(state)
    if step is None or step.rule is None:
        return None
    duration: Duration | None = getattr(policy, step.rule)
    revisit = policy.revisit
    tighter = revisit is not None and (
        duration is None or (revisit.unit == duration.unit and revisit.amount < duration.amount)
    )
    if state is State.verifying and tighter:
        return revisit
    return duration


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[State]
    actor: Actor | str  # an Actor, or "verified_by" / "feedback_by" / "appeal_decided_by"


TRANSITIONS: tuple[Transition, ...] = (
    Transition(Action.transfer, frozenset({State.registered}), Actor.office),
    Transition(Action.verify, frozenset({State.verifying}), "verified_by"),
    Transition(Action.submit_report, frozenset({State.rectifying}), Actor.window),
    Transition(Action.defer, frozenset({State.rectifying}), Actor.window),
    Transition(Action.explain, frozenset({State.rectifying}), Actor.window),
    Transition(Action.approve_report, frozenset({State.head_review}), Actor.head),
    Transition(Action.return_report, frozenset({State.head_review}), Actor.head),
    Transition(Action.confirm_rectification, frozenset({State.office_check}), Actor.office),
    Transition(Action.reject_rectification, frozenset({State.office_check}), Actor.office),
    Transition(Action.leader_approve, frozenset({State.leader_review}), Actor.leader),
    Transition(Action.leader_return, frozenset({State.leader_review}), Actor.leader),
    Transition(Action.report_upward, frozenset({State.reporting}), Actor.office),
    Transition(Action.send_feedback, frozenset({State.feedback}), "feedback_by"),
    Transition(Action.record_revisit, frozenset({State.revisit}), "feedback_by"),
    Transition(Action.file_appeal, frozenset({State.appeal_pending}), Actor.window),
    Transition(Action.withdraw_appeal, frozenset({State.appeal_pending}), Actor.window),
    Transition(Action.check_appeal, frozenset({State.appeal_check}), Actor.office),
    Transition(Action.approve_appeal, frozenset({State.appeal_leader}), Actor.leader),
    Transition(Action.decide_appeal, frozenset({State.appeal_decision}), "appeal_decided_by"),
)
BY_ACTION: dict[Action, Transition] = {t.action: t for t in TRANSITIONS}

_PARTY_ACTORS = {
    Party.office: Actor.office,
    Party.window: Actor.window,
    Party.upper_office: Actor.upper_office,
}


def performer(policy: WorkOrderPolicy, action: Action) -> Actor:
    """Who takes ``action`` under the profile (F1-F5)."""
    actor = BY_ACTION[action].actor
    if isinstance(actor, Actor):
        return actor
    party: Party = getattr(policy, actor)
    return _PARTY_ACTORS[party]


def exists_under(policy: WorkOrderPolicy, action: Action) -> bool:
    """Whether the profile's procedure has this action at all."""
    if action is Action.explain:
        return policy.explain_path
    return True


def allowed(policy: WorkOrderPolicy, state: State, action: Action) -> bool:
    return state in BY_ACTION[action].sources and exists_under(policy, action)


def check(policy: WorkOrderPolicy, state: str, action: str) -> tuple[State, Action]:
    """The typed state and action, or ``IllegalTransition``."""
    if state not in State.__members__ or action not in Action.__members__:
        raise IllegalTransition(action, state)
    typed_state, typed_action = State(state), Action(action)
    if not allowed(policy, typed_state, typed_action):
        raise IllegalTransition(action, state)
    return typed_state, typed_action


# --- where an action leads -------------------------------------------------------------------


def after_report(policy: WorkOrderPolicy) -> State:
    """Where the window's report goes: its head, else the office's check, else onwards."""
    if policy.head_approval:
        return State.head_review
    return after_head(policy)


def after_head(policy: WorkOrderPolicy) -> State:
    if policy.office_verification:
        return State.office_check
    return after_office(policy)


def after_office(policy: WorkOrderPolicy) -> State:
    if policy.leader_review:
        return State.leader_review
    return after_leader(policy)


def after_leader(policy: WorkOrderPolicy) -> State:
    return State.reporting if policy.reports_upward else State.feedback


def after_appeal_check(policy: WorkOrderPolicy) -> State:
    return State.appeal_leader if policy.leader_review else State.appeal_decision
