"""Demo cases and evaluations: raters behaving plausibly, written through the real services.

Every case goes through ``cases.service.upsert_case`` at its own time, every rating through
``evaluations.service.submit`` shortly after its occasion opens, so occasions, deadlines,
supplementary flags and credits are exactly what production would hold; the sweeper then turns
silence older than 7 days into defaults (C7). Deterministic for a seed and a ``now``.
"""

from __future__ import annotations

import random
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from haochaping import sweeper
from haochaping.calendar.models import CalendarOverride, CalendarYear
from haochaping.calendar.service import WorkCalendar
from haochaping.cases import service as cases
from haochaping.cases.models import ApplicantType, Bundle, Case, Occasion, OccasionStatus, Stage
from haochaping.cases.schemas import ApplicantIn, CaseIn
from haochaping.catalog.models import (
    BusinessLine,
    Hall,
    Handling,
    ItemKind,
    Organization,
    Region,
    ServiceItem,
    Staff,
    Window,
)
from haochaping.clock import BEIJING, ensure_aware, local_date
from haochaping.db import Database
from haochaping.demo.catalogue import (
    BUNDLES,
    DemoCatalogue,
    DemoItem,
    DemoStaff,
    build_catalogue,
    load_catalogue,
    person_name,
)
from haochaping.evaluations import service as evaluations
from haochaping.evaluations.models import Channel, Evaluation, FollowUp
from haochaping.evaluations.schemas import EvaluationIn, FollowUpIn
from haochaping.models import Base
from haochaping.policy import service as policy

Progress = Callable[[int, int], None]

# Cases per committed transaction.
COMMIT_EVERY = 500
HANDLING_SHARE = {Handling.window: 55, Handling.online: 30, Handling.terminal: 15}
BUNDLE_SHARE = 0.015  # of visits
BATCH_SHARE = 0.04  # of window cases
RATE_SHARE = 0.70  # of occasions; the rest stay silent
# Chance of a level per unit of "quality" (1.0 = an average performer).
BAD_CHANCE, FAIR_CHANCE, GOOD_CHANCE = 0.025, 0.035, 0.15
# The work calendar is an administrator's, not demo data: --reset keeps it.
KEPT_TABLES = frozenset({CalendarOverride.__tablename__, CalendarYear.__tablename__})

# Beijing hour of day → relative frequency, per place of handling.
_ONLINE_AM = (10, 5, 3, 2, 2, 3, 10, 20, 40, 70, 80, 70)
_ONLINE_PM = (50, 40, 50, 70, 70, 60, 50, 50, 60, 60, 40, 20)
_HOURS: dict[Handling, tuple[float, ...]] = {
    Handling.window: (0,) * 8 + (3, 10, 12, 9, 1, 0, 3, 10, 10, 5) + (0,) * 6,
    Handling.terminal: (0,) * 7 + (1, 3, 6, 7, 6, 3, 2, 3, 6, 6, 5, 4, 3, 2, 1, 0, 0),
    Handling.online: (*_ONLINE_AM, *_ONLINE_PM),
}
# Share of a non-working day's traffic compared with a working day.
_OFF_DAY = {Handling.window: 0.05, Handling.terminal: 0.2, Handling.online: 0.45}

# B4: labels a rater plausibly picks, by what went wrong where; filtered by the profile.
_LABELS = {
    "window": (
        "attitude.1",
        "attitude.2",
        "attitude.3",
        "efficiency.3",
        "efficiency.4",
        "quality.3",
        "quality.5",
        "environment.1",
    ),
    "online": ("quality.6", "efficiency.1", "efficiency.2", "environment.4", "quality.2"),
    "terminal": ("environment.5", "environment.4", "environment.2", "efficiency.2"),
    "result": ("efficiency.5", "quality.4", "quality.8", "attitude.1"),
}
_BAD_TEXTS = {
    "window": (
        "窗口人员态度冷淡，问了几遍才回答。",
        "排队等了一个多小时，只开了一个窗口。",
        "材料要求没有一次性说清楚，跑了两趟。",
        "工作人员对业务不熟悉，办得很慢。",
    ),
    "online": (
        "网上提交后一直显示审核中，没人联系。",
        "系统老是卡顿，上传材料失败好几次。",
        "网上说可以全程网办，结果还要到现场交材料。",
    ),
    "terminal": ("自助机打印不出来，也没有人指导。", "自助终端经常死机，只好去窗口排队。"),
    "result": ("超过承诺时间还没办好，也没人通知。", "审批环节太多，等了很久。"),
}
_GOOD_TEXTS = (
    "工作人员热情耐心，点赞！",
    "办理速度很快，一次就办好了。",
    "网上办理很方便，不用跑腿。",
    "指引清晰，服务周到。",
)
_FAIR_TEXTS = ("等候时间有点长。", "流程还可以再简化一些。")
_FOLLOW_UP_BAD = ("工作人员已电话回访，问题已经解决，谢谢。", "整改后重新办理，已经办好了。")
_FOLLOW_UP_GOOD = ("证件已经收到，非常满意。", "后续咨询也很及时，再次点赞。")
_PHONE_PREFIXES = "130 131 132 133 135 136 137 138 139 150 151 152 155 156 157 158 159"
_PHONE_PREFIXES += " 166 171 173 175 176 177 178 180 181 182 183 185 186 187 188 189 191 199"
_COMPANY_WORDS = "鑫盛隆华泰恒源达兴瑞丰宏信诚嘉桂邕柳漓"
_INDUSTRIES = ("商贸", "建材", "餐饮", "科技", "物流", "农业", "文化传媒", "旅游", "食品", "电子")
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@dataclass
class DemoSummary:
    """What the demo database holds once generated, counted from the tables themselves."""

    regions: int
    halls: int
    lines: int
    organisations: int
    items: int
    windows: int
    staff: int
    cases: int
    bundles: int
    batches: int
    occasions: int
    open_occasions: int
    active_evaluations: int
    default_evaluations: int
    bad_reviews: int
    supplementary: int
    follow_ups: int
    per_channel: dict[int, int]
    sample_case_no: str | None
    seconds: float = 0.0


# --------------------------------------------------------------------------- people


def id_number(rng: random.Random, region: str, born: date) -> str:
    """An 18-digit 居民身份证号码 with a valid GB 11643 check digit."""
    body = f"{region[:6]}{born:%Y%m%d}{rng.randrange(1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def credit_code(rng: random.Random, region: str) -> str:
    """An 18-character 统一社会信用代码 (GB 32100) of a company registered in ``region``."""
    org = "".join(str(rng.randrange(10)) for _ in range(8))
    # GB 11714: the 9-character organisation code ends with its own check character.
    c9 = 11 - sum(int(d) * w for d, w in zip(org, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    org += "X" if c9 == 10 else "0" if c9 == 11 else str(c9)
    body = "91" + region[:6] + org
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, weights, strict=True))
    return body + _USCC_CHARS[(31 - total % 31) % 31]


def phone_number(rng: random.Random) -> str:
    return rng.choice(_PHONE_PREFIXES.split()) + f"{rng.randrange(10**8):08d}"


# --------------------------------------------------------------------------- planning


@dataclass
class _Member:
    item: DemoItem
    handling: Handling
    accepted_at: datetime
    region_code: str | None = None
    hall_code: str | None = None
    window_code: str | None = None
    staff: DemoStaff | None = None
    batch_size: int = 1


@dataclass
class _Visit:
    """One applicant's business: a single case, or the cases of a bundle (一件事, C2)."""

    members: list[_Member]
    applicant: ApplicantIn
    quality: float
    # Single promised case: decided and completed; bundle: approved, then delivered and done.
    approved_at: datetime | None = None
    completed_at: datetime | None = None
    bundle_name: str | None = None

    @property
    def at(self) -> datetime:
        return self.members[0].accepted_at


@dataclass
class _Planner:
    rng: random.Random
    catalogue: DemoCatalogue
    calendar: WorkCalendar
    now: datetime
    days: int
    _day_weights: dict[Handling, list[float]] = field(init=False, default_factory=dict)
    _items: dict[Handling, tuple[list[DemoItem], list[float]]] = field(
        init=False, default_factory=dict
    )
    _dates: list[date] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        today = local_date(self.now)
        self._dates = [today - timedelta(days=i) for i in range(self.days)]
        working = [self.calendar.is_working_day(d)[0] for d in self._dates]
        for handling, off in _OFF_DAY.items():
            self._day_weights[handling] = [1.0 if w else off for w in working]
        weight = {r.code: r.weight for r in self.catalogue.regions}
        for handling in Handling:
            items = [i for i in self.catalogue.items if handling in i.template.handling]
            self._items[handling] = (
                items,
                [
                    weight[self.catalogue.org(i.org_code).region_code] * i.template.weight
                    for i in items
                ],
            )

    @property
    def latest(self) -> datetime:
        return self.now - timedelta(minutes=30)

    def visits(self, total: int) -> list[_Visit]:
        out: list[_Visit] = []
        planned = 0
        while planned < total:
            if total - planned >= 2 and self.rng.random() < BUNDLE_SHARE:
                visit = self._bundle(total - planned)
            else:
                visit = self._single()
            out.append(visit)
            planned += len(visit.members)
        out.sort(key=lambda v: v.at)
        return out

    def _moment(self, handling: Handling) -> datetime:
        rng = self.rng
        for _ in range(50):
            day = rng.choices(self._dates, weights=self._day_weights[handling])[0]
            hour = rng.choices(range(24), weights=_HOURS[handling])[0]
            at = datetime.combine(
                day, time(hour, rng.randrange(60), rng.randrange(60)), BEIJING
            ).astimezone(UTC)
            if at <= self.latest:
                return at
        return self.latest - timedelta(minutes=rng.uniform(0, 600))

    def _working_day(self, start: date, after: int) -> date:
        day = start
        while after > 0:
            day += timedelta(days=1)
            if self.calendar.is_working_day(day)[0]:
                after -= 1
        return day

    def _done_at(self, accepted: datetime, working_days: int) -> datetime | None:
        """When a promised case (or a bundle stage) is done, or None while still in progress."""
        day = self._working_day(local_date(accepted), working_days)
        moment = datetime.combine(day, time(self.rng.randint(9, 17), self.rng.randrange(60)))
        done = max(ensure_aware(moment).astimezone(UTC), accepted + timedelta(minutes=40))
        return done if done <= self.latest else None

    def _applicant(self, region: str, legal_share: float) -> ApplicantIn:
        rng = self.rng
        if rng.random() < legal_share:
            place = self.catalogue.regions_by_code[region[:6]].full_name
            words = "".join(rng.sample(_COMPANY_WORDS, 2))
            return ApplicantIn(
                type=ApplicantType.legal_person,
                name=f"{place}{words}{rng.choice(_INDUSTRIES)}有限公司",
                id_type="统一社会信用代码",
                id_no=credit_code(rng, region),
                phone=phone_number(rng),
            )
        home = region if rng.random() < 0.75 else rng.choice(self.catalogue.county_codes)
        year = self.now.year - rng.randint(18, 80)
        born = date(year, 1, 1) + timedelta(days=rng.randrange(365))
        return ApplicantIn(
            type=ApplicantType.person,
            name=person_name(rng),
            id_type="身份证",
            id_no=id_number(rng, home, born),
            phone=phone_number(rng),
        )

    def _single(self) -> _Visit:
        rng = self.rng
        handling = rng.choices(list(HANDLING_SHARE), weights=list(HANDLING_SHARE.values()))[0]
        items, weights = self._items[handling]
        item = rng.choices(items, weights=weights)[0]
        org = self.catalogue.org(item.org_code)
        accepted = self._moment(handling)
        member = _Member(item, handling, accepted)
        quality = org.quality
        if handling is Handling.window:
            windows = org.windows
            window = rng.choices(
                windows, weights=[3 if w.region_code == org.region_code else 1 for w in windows]
            )[0]
            # The window names its hall, so the case gives no hall code of its own.
            member.window_code, member.region_code = window.code, window.region_code
            member.staff = rng.choice(window.staff)
            quality = member.staff.quality
            if rng.random() < BATCH_SHARE:
                member.batch_size = rng.randint(2, 5)
        elif handling is Handling.terminal:
            member.hall_code = self.catalogue.centre[org.region_code]
        visit = _Visit(
            [member], self._applicant(org.region_code, item.template.legal_share), quality
        )
        minutes = {Handling.window: (5, 25), Handling.terminal: (1, 6), Handling.online: (10, 180)}
        if item.template.kind is ItemKind.immediate:
            done = accepted + timedelta(minutes=rng.uniform(*minutes[handling]))
            visit.completed_at = min(done, self.now)
        elif rng.random() > 0.04:  # a few promised cases stall, whatever their age
            days = item.template.promised_days
            late = rng.random() < 0.08
            working_days = days + rng.randint(1, 3) if late else rng.randint(1, max(days, 1))
            visit.completed_at = self._done_at(accepted, working_days)
            if visit.completed_at is not None:
                before = visit.completed_at - timedelta(minutes=rng.randint(20, 600))
                visit.approved_at = max(before, accepted + timedelta(minutes=10))
        return visit

    def _bundle(self, room: int) -> _Visit:
        rng = self.rng
        name, keys = rng.choice(BUNDLES)
        keys = keys[:room]
        regions = [r for r in self.catalogue.regions if r.code in self.catalogue.centre]
        region = rng.choices(regions, weights=[r.weight for r in regions])[0]
        items = [self.catalogue.item_by_key(region.code, key) for key in keys]
        handling = Handling.window
        if rng.random() < 0.3 and all(Handling.online in i.template.handling for i in items):
            handling = Handling.online
        accepted = self._moment(handling)
        members = []
        qualities = []
        for n, item in enumerate(items):
            member = _Member(item, handling, accepted + timedelta(minutes=4 * n))
            org = self.catalogue.org(item.org_code)
            if handling is Handling.window:
                window = rng.choice([w for w in org.windows if w.region_code == region.code])
                member.window_code = window.code
                member.staff = rng.choice(window.staff)
                qualities.append(member.staff.quality)
            else:
                qualities.append(org.quality)
            members.append(member)
        legal = max(i.template.legal_share for i in items)
        visit = _Visit(members, self._applicant(region.code, legal), sum(qualities) / len(items))
        visit.bundle_name = name
        visit.approved_at = self._done_at(members[-1].accepted_at, rng.randint(1, 2))
        if visit.approved_at is not None and rng.random() > 0.05:
            delivered = self._done_at(visit.approved_at, rng.randint(1, 2))
            visit.completed_at = delivered
        return visit


# --------------------------------------------------------------------------- writing


@dataclass
class _Writer:
    rng: random.Random
    now: datetime
    case_seq: int = 0
    bundle_seq: int = 0

    def run(self, session: Session, visit: _Visit) -> None:
        if visit.bundle_name is not None:
            self._bundle(session, visit)
        else:
            self._single(session, visit)

    def _case_in(self, visit: _Visit, member: _Member, case_no: str, **stamps: object) -> CaseIn:
        return CaseIn.model_validate(
            {
                "case_no": case_no,
                "item_code": member.item.code,
                "region_code": member.region_code,
                "hall_code": member.hall_code,
                "window_code": member.window_code,
                "staff_code": member.staff.code if member.staff else None,
                "applicant": visit.applicant,
                "handling": member.handling,
                "accepted_at": member.accepted_at,
                "batch_size": member.batch_size,
                **stamps,
            }
        )

    def _case_no(self, member: _Member) -> str:
        self.case_seq += 1
        region = member.item.org_code[:6]
        return f"{region}{local_date(member.accepted_at):%Y%m%d}{self.case_seq:06d}"

    def _single(self, session: Session, visit: _Visit) -> None:
        member = visit.members[0]
        case_no = self._case_no(member)
        if member.item.template.kind is ItemKind.immediate:
            done = visit.completed_at or member.accepted_at
            data = self._case_in(visit, member, case_no, completed_at=visit.completed_at)
            case, _ = cases.upsert_case(session=session, data=data, now=done)
            self._rate_new(session, case, visit, {Stage.complete}, result=False)
            return
        data = self._case_in(visit, member, case_no)
        case, _ = cases.upsert_case(session=session, data=data, now=member.accepted_at)
        self._rate_new(session, case, visit, {Stage.accept}, result=False)
        if visit.completed_at is None:
            return
        data = self._case_in(
            visit,
            member,
            case_no,
            approved_at=visit.approved_at,
            delivered_at=visit.completed_at,
            completed_at=visit.completed_at,
        )
        case, _ = cases.upsert_case(session=session, data=data, now=visit.completed_at)
        self._rate_new(session, case, visit, {Stage.complete}, result=True)

    def _bundle(self, session: Session, visit: _Visit) -> None:
        """C2: every member is registered at each step, as the business systems would."""
        self.bundle_seq += 1
        region = visit.members[0].item.org_code[:6]
        bundle_no = f"YJS{region}{local_date(visit.at):%Y%m%d}{self.bundle_seq:04d}"
        numbers = [self._case_no(m) for m in visit.members]
        approved, completed = visit.approved_at, visit.completed_at
        steps: list[tuple[datetime | None, dict[str, datetime | None], set[Stage]]] = [
            (None, {}, {Stage.accept}),
            (approved, {"approved_at": approved}, {Stage.approve}),
            (
                completed,
                {"approved_at": approved, "delivered_at": completed, "completed_at": completed},
                {Stage.deliver, Stage.overall},
            ),
        ]
        for at, stamps, stages in steps:
            if stamps and at is None:
                return  # still in progress
            case: Case | None = None
            for member, case_no in zip(visit.members, numbers, strict=True):
                data = self._case_in(
                    visit,
                    member,
                    case_no,
                    bundle_no=bundle_no,
                    bundle_name=visit.bundle_name,
                    **stamps,
                )
                now = at or member.accepted_at
                case, _ = cases.upsert_case(session=session, data=data, now=now)
            assert case is not None
            self._rate_new(session, case, visit, stages, result=Stage.overall in stages)

    def _rate_new(
        self, session: Session, case: Case, visit: _Visit, stages: set[Stage], *, result: bool
    ) -> None:
        """Rate (or not) the occasions of the case or its bundle that have just opened."""
        own, shared = cases.case_occasions(session=session, case=case)
        for occasion in own + shared:
            if occasion.stage in stages and occasion.status == OccasionStatus.open.value:
                self._maybe_rate(session, occasion, visit, result=result)

    def _maybe_rate(
        self, session: Session, occasion: Occasion, visit: _Visit, *, result: bool
    ) -> None:
        rng = self.rng
        if rng.random() >= RATE_SHARE:
            return
        handling = visit.members[0].handling
        delay, channel = self._when_and_channel(handling, pickup=result)
        at = occasion.opens_at + delay
        if at > self.now or at > occasion.rate_until:
            return  # the rater has not come round to it yet
        level = self._level(visit.quality)
        profile = policy.get_profile(name=occasion.profile_name)
        context = "result" if result and rng.random() < 0.6 else handling.value
        labels: list[str] = []
        text: str | None = None
        if profile.is_bad(level):
            allowed = [label.code for label in profile.labels.for_level(level)]
            liked = [code for code in _LABELS[context] if code in allowed] or allowed
            mode = rng.random()
            if liked and mode < 0.85:
                labels = rng.sample(liked, min(len(liked), rng.choice((1, 1, 2))))
            if mode >= 0.55 or not labels:
                text = rng.choice(_BAD_TEXTS[context])
        elif rng.random() < 0.08:
            text = rng.choice(_GOOD_TEXTS if level >= 4 else _FAIR_TEXTS)
        data = EvaluationIn(
            occasion_id=occasion.id, level=level, label_codes=labels, text=text, channel=channel
        )
        evaluation = evaluations.submit(session=session, data=data, now=at)
        bad = profile.is_bad(level)
        if rng.random() < (0.3 if bad else 0.01):
            later = at + timedelta(hours=rng.uniform(12, 144))
            if later <= self.now:
                follow = FollowUpIn(
                    text=rng.choice(_FOLLOW_UP_BAD if bad else _FOLLOW_UP_GOOD),
                    channel=rng.choice((Channel.mobile, Channel.sms, Channel.pc)),
                )
                evaluations.follow_up(
                    session=session, evaluation_id=evaluation.id, data=follow, now=later
                )

    def _when_and_channel(self, handling: Handling, *, pickup: bool) -> tuple[timedelta, Channel]:
        """D5 by place: online raters use the portal or app, or answer the SMS / phone prompt
        a day later (C5); on site the counter device, the terminal or the window's QR code;
        someone who left without rating comes back by SMS, app, phone or PC (C8)."""
        rng = self.rng
        if handling is Handling.online:
            if rng.random() < 0.85:
                channel = Channel.pc if rng.random() < 0.5 else Channel.mobile
                return timedelta(minutes=rng.uniform(1, 90)), channel
            channel = Channel.sms if rng.random() < 0.65 else Channel.phone
            return timedelta(days=1, minutes=rng.uniform(5, 600)), channel
        if rng.random() < (0.5 if pickup else 0.88):
            if handling is Handling.window:
                channel = Channel.hall_device if rng.random() < 0.72 else Channel.qr
            else:
                channel = Channel.hall_terminal if rng.random() < 0.8 else Channel.qr
            return timedelta(minutes=rng.uniform(0.5, 8)), channel
        late = (Channel.sms, Channel.mobile, Channel.phone, Channel.pc)
        channel = rng.choices(late, weights=(40, 35, 15, 10))[0]
        return timedelta(days=rng.choice((1, 1, 2)), minutes=rng.uniform(0, 600)), channel

    def _level(self, quality: float) -> int:
        r = self.rng.random()
        bad, fair = BAD_CHANCE * quality, FAIR_CHANCE * quality
        if r < bad:
            return 1 if self.rng.random() < 0.35 else 2
        if r < bad + fair:
            return 3
        return 4 if r < bad + fair + GOOD_CHANCE else 5


# --------------------------------------------------------------------------- entry points


def existing_data(db: Database) -> tuple[int, int]:
    """How many cases and regions the database already holds."""
    with db.transaction() as session:
        n_cases = session.scalar(select(func.count()).select_from(Case)) or 0
        n_regions = session.scalar(select(func.count()).select_from(Region)) or 0
    return int(n_cases), int(n_regions)


def reset_database(db: Database) -> None:
    """Delete every row but the work calendar, children before parents."""
    with db.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEPT_TABLES:
                session.execute(table.delete())


def generate_demo(
    *,
    db: Database,
    cases: int,
    days: int,
    seed: int,
    now: datetime,
    progress: Progress | None = None,
) -> DemoSummary:
    """Load the demo catalogue, register ``cases`` cases over the last ``days`` days,
    rate ~70 % of their occasions and sweep the rest into defaults. Commits as it goes."""
    started = clock.perf_counter()
    now = ensure_aware(now).astimezone(UTC)
    catalogue = build_catalogue(random.Random(f"catalogue-{seed}"))
    with db.transaction() as session:
        load_catalogue(session, catalogue)
        calendar = WorkCalendar.load(session)
    planner = _Planner(random.Random(f"plan-{seed}"), catalogue, calendar, now, max(days, 1))
    visits = planner.visits(cases)
    writer = _Writer(random.Random(f"rate-{seed}"), now)
    done = 0
    for chunk in _chunks(visits):
        with db.transaction() as session:
            # The identity map holds rows weakly: keeping the catalogue referenced lets the
            # services' lookups by primary key (regions, organisations) skip the database.
            keep = [*session.scalars(select(Region)), *session.scalars(select(Organization))]
            for visit in chunk:
                writer.run(session, visit)
                done += len(visit.members)
                if progress is not None:
                    progress(done, cases)
            del keep
    sweeper.run_sweep(db, now)
    with db.transaction() as session:
        summary = summarize(session)
    summary.seconds = clock.perf_counter() - started
    return summary


def _chunks(visits: Sequence[_Visit]) -> list[list[_Visit]]:
    chunks: list[list[_Visit]] = [[]]
    size = 0
    for visit in visits:
        if size >= COMMIT_EVERY:
            chunks.append([])
            size = 0
        chunks[-1].append(visit)
        size += len(visit.members)
    return chunks


def summarize(session: Session) -> DemoSummary:
    """Count what the database holds (all of it, demo or not)."""

    def count(model: type[Base], *where: ColumnElement[bool]) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    channels = session.execute(
        select(Evaluation.channel, func.count())
        .where(Evaluation.is_default.is_(False))
        .group_by(Evaluation.channel)
    ).all()
    sample = session.scalar(
        select(Case.case_no).where(Case.bundle_id.is_not(None)).order_by(Case.id).limit(1)
    ) or session.scalar(select(Case.case_no).order_by(Case.id).limit(1))
    return DemoSummary(
        regions=count(Region),
        halls=count(Hall),
        lines=count(BusinessLine),
        organisations=count(Organization),
        items=count(ServiceItem),
        windows=count(Window),
        staff=count(Staff),
        cases=count(Case),
        bundles=count(Bundle),
        batches=count(Case, Case.batch_size > 1),
        occasions=count(Occasion),
        open_occasions=count(Occasion, Occasion.status == OccasionStatus.open.value),
        active_evaluations=count(Evaluation, Evaluation.is_default.is_(False)),
        default_evaluations=count(Evaluation, Evaluation.is_default.is_(True)),
        bad_reviews=count(Evaluation, Evaluation.is_bad.is_(True)),
        supplementary=count(Evaluation, Evaluation.supplementary.is_(True)),
        follow_ups=count(FollowUp),
        per_channel={int(c): int(n) for c, n in channels if c is not None},
        sample_case_no=sample,
    )
