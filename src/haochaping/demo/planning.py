"""The demo's random plan: who comes when, for which item, where, and how they rate it.

Everything here is decided from a seeded ``random.Random`` and the work calendar alone, without
touching the database, so the same seed and ``now`` always give the same plan; ``generator``
writes the plan through the services.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from haochaping.calendar.service import WorkCalendar
from haochaping.cases.models import ApplicantType, Occasion
from haochaping.cases.schemas import ApplicantIn
from haochaping.catalog.models import Handling, ItemKind
from haochaping.clock import BEIJING, ensure_aware, local_date
from haochaping.demo.catalogue import BUNDLES, DemoCatalogue, DemoItem, DemoStaff, person_name
from haochaping.evaluations.models import Channel
from haochaping.evaluations.schemas import EvaluationIn, FollowUpIn
from haochaping.policy import service as policy

HANDLING_SHARE = {Handling.window: 55, Handling.online: 30, Handling.terminal: 15}
BUNDLE_SHARE = 0.015  # of visits
BATCH_SHARE = 0.04  # of window cases
RATE_SHARE = 0.70  # of occasions; the rest stay silent
# Chance of a level per unit of "quality" (1.0 = an average performer).
BAD_CHANCE, FAIR_CHANCE, GOOD_CHANCE = 0.025, 0.035, 0.15

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


# --------------------------------------------------------------------------- visits


@dataclass
class Member:
    """One case of a visit: its item, where it is handled, and by whom."""

    item: DemoItem
    handling: Handling
    accepted_at: datetime
    region_code: str | None = None
    hall_code: str | None = None
    window_code: str | None = None
    staff: DemoStaff | None = None
    batch_size: int = 1


@dataclass
class Visit:
    """One applicant's business: a single case, or the cases of a bundle (一件事, C2)."""

    members: list[Member]
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
class Planner:
    """Visits spread over the last ``days`` days by hour, place of handling and region weight."""

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

    def visits(self, total: int) -> list[Visit]:
        """Visits holding ``total`` cases between them, in the order they arrive."""
        out: list[Visit] = []
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

    def _single(self) -> Visit:
        rng = self.rng
        handling = rng.choices(list(HANDLING_SHARE), weights=list(HANDLING_SHARE.values()))[0]
        items, weights = self._items[handling]
        item = rng.choices(items, weights=weights)[0]
        org = self.catalogue.org(item.org_code)
        accepted = self._moment(handling)
        member = Member(item, handling, accepted)
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
        visit = Visit(
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

    def _bundle(self, room: int) -> Visit:
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
            member = Member(item, handling, accepted + timedelta(minutes=4 * n))
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
        visit = Visit(members, self._applicant(region.code, legal), sum(qualities) / len(items))
        visit.bundle_name = name
        visit.approved_at = self._done_at(members[-1].accepted_at, rng.randint(1, 2))
        if visit.approved_at is not None and rng.random() > 0.05:
            delivered = self._done_at(visit.approved_at, rng.randint(1, 2))
            visit.completed_at = delivered
        return visit


# --------------------------------------------------------------------------- ratings


@dataclass
class Rating:
    """What a rater submits for an occasion, and when; perhaps a follow-up later (追加评价)."""

    at: datetime
    evaluation: EvaluationIn
    follow_up: tuple[datetime, FollowUpIn] | None = None


@dataclass
class Rater:
    """Raters behaving plausibly: who rates, how soon, by which channel, how well, and why."""

    rng: random.Random
    now: datetime

    def rating(self, occasion: Occasion, visit: Visit, *, result: bool) -> Rating | None:
        """The rating of an occasion that has just opened, or None if nobody rates it by now."""
        rng = self.rng
        if rng.random() >= RATE_SHARE:
            return None
        handling = visit.members[0].handling
        delay, channel = self._when_and_channel(handling, pickup=result)
        at = occasion.opens_at + delay
        if at > self.now or at > occasion.rate_until:
            return None  # the rater has not come round to it yet
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
        rating = Rating(at, data)
        bad = profile.is_bad(level)
        if rng.random() < (0.3 if bad else 0.01):
            later = at + timedelta(hours=rng.uniform(12, 144))
            if later <= self.now:
                follow = FollowUpIn(
                    text=rng.choice(_FOLLOW_UP_BAD if bad else _FOLLOW_UP_GOOD),
                    channel=rng.choice((Channel.mobile, Channel.sms, Channel.pc)),
                )
                rating.follow_up = (later, follow)
        return rating

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
