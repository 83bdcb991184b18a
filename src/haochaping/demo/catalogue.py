"""The demo catalogue: part of 广西壮族自治区 with real GB/T 2260 codes (A2-A5).

``build_catalogue`` describes it in memory (deterministic for a seed); ``load_catalogue``
writes it through the catalogue models in a handful of flushes. The generator draws its cases
from the in-memory description, so it never has to look a code up in the database.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from haochaping.catalog.models import (
    BusinessLine,
    Hall,
    Handling,
    ItemKind,
    Organization,
    Region,
    RegionLevel,
    ServiceItem,
    Staff,
    Window,
)

PROVINCE = "450000"

# code, name, level, parent, profile, weight (share of cases handled there)
_REGIONS: tuple[tuple[str, str, RegionLevel, str | None, str | None, int], ...] = (
    ("450000", "广西壮族自治区", RegionLevel.province, None, "guangxi", 0),
    ("450100", "南宁市", RegionLevel.city, "450000", None, 14),
    ("450102", "兴宁区", RegionLevel.county, "450100", None, 10),
    ("450103", "青秀区", RegionLevel.county, "450100", None, 14),
    ("450200", "柳州市", RegionLevel.city, "450000", None, 12),
    ("450202", "城中区", RegionLevel.county, "450200", None, 8),
    ("450224", "融安县", RegionLevel.county, "450200", "rongan", 10),
    ("450225", "融水苗族自治县", RegionLevel.county, "450200", None, 8),
    ("450300", "桂林市", RegionLevel.city, "450000", None, 10),
    ("450302", "秀峰区", RegionLevel.county, "450300", None, 7),
    ("450321", "阳朔县", RegionLevel.county, "450300", None, 7),
    # 乡镇（街道）: 12-digit extensions of the county codes (A3).
    ("450102001000", "民生街道", RegionLevel.township, "450102", None, 0),
    ("450103001000", "新竹街道", RegionLevel.township, "450103", None, 0),
    ("450224100000", "长安镇", RegionLevel.township, "450224", None, 0),
    ("450224101000", "浮石镇", RegionLevel.township, "450224", None, 0),
    ("450225100000", "融水镇", RegionLevel.township, "450225", None, 0),
    ("450321100000", "阳朔镇", RegionLevel.township, "450321", None, 0),
)

# Counties and districts whose full name carries the city: 南宁市兴宁区, 柳州市城中区 …
_DISTRICTS = {"450102", "450103", "450202", "450302"}

# code, name, how an organisation of the line is named ({r} = full region name)
_LINES: tuple[tuple[str, str], ...] = (
    ("GA", "公安"),
    ("BDC", "不动产登记"),
    ("SCJG", "市场监管"),
    ("RSJ", "人力社保"),
    ("YB", "医保"),
    ("SW", "税务"),
)

# Windows of each line in a city or county centre.
_WINDOWS_PER_LINE = {"GA": 2, "BDC": 2, "SCJG": 2, "RSJ": 1, "YB": 1, "SW": 1}
_WINDOW_NAMES = {
    "GA": "公安综合窗口",
    "BDC": "不动产登记窗口",
    "SCJG": "企业开办窗口",
    "RSJ": "社保服务窗口",
    "YB": "医保服务窗口",
    "SW": "办税服务窗口",
}
# Lines with a window in every township 便民服务中心.
_TOWNSHIP_LINES = ("RSJ", "YB")

W, ON, T = Handling.window, Handling.online, Handling.terminal
IMM, PRO = ItemKind.immediate, ItemKind.promised


@dataclass(frozen=True)
class ItemTemplate:
    """A service item every organisation of its line offers."""

    key: str
    name: str
    kind: ItemKind
    handling: tuple[Handling, ...]
    promised_days: int
    # Relative frequency among the line's cases, and share of legal-person applicants.
    weight: float
    legal_share: float = 0.0


_ITEMS: dict[str, tuple[ItemTemplate, ...]] = {
    "GA": (
        ItemTemplate("id_card", "居民身份证换领", PRO, (W,), 15, 6),
        ItemTemplate("id_loss", "居民身份证挂失申报", IMM, (W, ON), 0, 2),
        ItemTemplate("hukou_move", "户口迁移（迁入）", PRO, (W, ON), 5, 2),
        ItemTemplate("birth", "出生登记", PRO, (W, ON), 3, 2),
        ItemTemplate("no_crime", "无犯罪记录证明开具", PRO, (W, ON, T), 3, 2),
        ItemTemplate("licence", "机动车驾驶证补领", IMM, (W, ON, T), 0, 3),
        ItemTemplate("seal", "公章刻制备案", IMM, (W, ON), 0, 1, 1.0),
    ),
    "BDC": (
        ItemTemplate("transfer", "不动产转移登记", PRO, (W, ON), 5, 5, 0.1),
        ItemTemplate("mortgage", "不动产抵押登记", PRO, (W, ON), 3, 3, 0.3),
        ItemTemplate("query", "不动产登记资料查询", IMM, (W, ON, T), 0, 4, 0.1),
        ItemTemplate("first", "不动产首次登记", PRO, (W,), 10, 1, 0.6),
        ItemTemplate("notice", "预告登记", PRO, (W, ON), 3, 1),
    ),
    "SCJG": (
        ItemTemplate("setup", "企业设立登记", PRO, (W, ON), 1, 4, 1.0),
        ItemTemplate("sole", "个体工商户登记", IMM, (W, ON, T), 0, 5),
        ItemTemplate("change", "企业变更登记", PRO, (W, ON), 1, 3, 1.0),
        ItemTemplate("food", "食品经营许可", PRO, (W, ON), 10, 2, 0.7),
        ItemTemplate("close", "企业注销登记", PRO, (W, ON), 3, 1, 1.0),
    ),
    "RSJ": (
        ItemTemplate("sscard", "社会保障卡申领", IMM, (W, ON, T), 0, 6),
        ItemTemplate("sscard_loss", "社会保障卡挂失", IMM, (W, ON, T), 0, 3),
        ItemTemplate("unemployed", "失业保险金申领", PRO, (W, ON), 5, 2),
        ItemTemplate("pension", "城乡居民养老保险参保登记", IMM, (W, ON), 0, 3),
        ItemTemplate("employ", "就业创业证申领", PRO, (W, ON), 3, 2),
        ItemTemplate("unit", "单位社会保险登记", IMM, (W, ON), 0, 1, 1.0),
    ),
    "YB": (
        ItemTemplate("transfer", "医保关系转移", PRO, (W, ON), 10, 3),
        ItemTemplate("remote", "异地就医备案", IMM, (ON, W, T), 0, 5),
        ItemTemplate("resident", "城乡居民医保参保登记", IMM, (W, ON, T), 0, 4),
        ItemTemplate("refund", "医疗费用手工报销", PRO, (W,), 15, 2),
        ItemTemplate("chronic", "门诊慢特病待遇认定", PRO, (W, ON), 10, 2),
    ),
    "SW": (
        ItemTemplate("invoice", "发票领用", IMM, (W, ON, T), 0, 5, 0.8),
        ItemTemplate("iit", "个人所得税综合所得汇算清缴", IMM, (ON, W), 0, 4),
        ItemTemplate("vat", "增值税纳税申报", IMM, (ON, W, T), 0, 4, 0.9),
        ItemTemplate("change", "税务登记信息变更", IMM, (W, ON), 0, 1, 0.9),
        ItemTemplate("proof", "开具税收完税证明", IMM, (W, ON, T), 0, 2, 0.3),
        ItemTemplate("house", "二手房交易税费申报", IMM, (W, ON), 0, 2),
    ),
}

# 一件事 (C2): items of several lines of one county handled together, by template key.
BUNDLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("新生儿出生“一件事”", ("GA.birth", "YB.resident", "RSJ.sscard")),
    ("企业开办“一件事”", ("SCJG.setup", "GA.seal", "SW.invoice")),
    ("二手房转移登记“一件事”", ("BDC.transfer", "SW.house")),
    ("企业参保“一件事”", ("SCJG.change", "RSJ.unit")),
)

# Common surnames, with the Zhuang-region ones (韦, 覃, 蒙, 农, 莫, 黎, 蓝) well represented.
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁郑谢韦唐宋莫蒙覃廖潘邓农黎陆蓝卢"
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志宏海燕晓东丹"
    "春梅云飞鹏辉婷雪琳宇航子涵思远佳怡梓萱欣悦浩然俊杰文博嘉琪"
)


@dataclass
class DemoStaff:
    code: str
    name: str
    # Multiplier of the chance of a poor rating: the demo needs good and weak performers.
    quality: float


@dataclass
class DemoWindow:
    code: str
    name: str
    hall_code: str
    org_code: str
    # Where a case handled at this window took place (a township for its 便民服务中心).
    region_code: str
    staff: list[DemoStaff] = field(default_factory=list)


@dataclass
class DemoItem:
    code: str
    name: str
    org_code: str
    template: ItemTemplate

    @property
    def key(self) -> str:
        return self.template.key


@dataclass
class DemoOrg:
    code: str
    name: str
    region_code: str
    line_code: str
    quality: float
    items: list[DemoItem] = field(default_factory=list)
    windows: list[DemoWindow] = field(default_factory=list)


@dataclass
class DemoHall:
    code: str
    name: str
    region_code: str
    parent_code: str | None = None


@dataclass
class DemoRegion:
    code: str
    name: str
    full_name: str
    level: RegionLevel
    parent: str | None
    profile: str | None
    path: str
    weight: int


@dataclass
class DemoCatalogue:
    regions: list[DemoRegion]
    lines: list[tuple[str, str]]
    halls: list[DemoHall]
    orgs: list[DemoOrg]
    # The city or county centre of each region that has organisations (terminals stand there).
    centre: dict[str, str]
    regions_by_code: dict[str, DemoRegion] = field(init=False, repr=False)
    _orgs_by_code: dict[str, DemoOrg] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.regions_by_code = {r.code: r for r in self.regions}
        self._orgs_by_code = {o.code: o for o in self.orgs}

    def org(self, code: str) -> DemoOrg:
        return self._orgs_by_code[code]

    def item_by_key(self, region_code: str, key: str) -> DemoItem:
        """The item of template ``LINE.key`` (e.g. ``GA.birth``) offered in a region."""
        line, name = key.split(".")
        return next(i for i in self.org(f"{region_code}-{line}").items if i.key == name)

    @property
    def county_codes(self) -> list[str]:
        """Codes of the cities and counties, where people are registered (ID numbers)."""
        return list(self.centre)

    @property
    def items(self) -> list[DemoItem]:
        return [item for org in self.orgs for item in org.items]

    @property
    def windows(self) -> list[DemoWindow]:
        return [w for org in self.orgs for w in org.windows]

    @property
    def staff(self) -> list[DemoStaff]:
        return [s for w in self.windows for s in w.staff]


def _org_name(region: DemoRegion, city: DemoRegion | None, line: str) -> str:
    full = region.full_name
    short = region.name.removesuffix("区")
    district = region.code in _DISTRICTS and city is not None
    names = {
        "GA": f"{city.name}公安局{short}分局" if district and city else f"{full}公安局",
        "BDC": f"{full}不动产登记中心",
        "SCJG": f"{full}市场监督管理局",
        "RSJ": f"{full}人力资源和社会保障局",
        "YB": f"{full}医疗保障局",
        "SW": f"国家税务总局{full}税务局",
    }
    return names[line]


def person_name(rng: random.Random) -> str:
    """A plausible Chinese name: a common surname (now and then 欧阳) and one or two characters."""
    surname = "欧阳" if rng.random() < 0.01 else rng.choice(SURNAMES)
    return surname + "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))


def _staff_names(rng: random.Random) -> Iterator[str]:
    """Distinct names, so that two staff members of the demo never share one."""
    seen: set[str] = set()
    while True:
        name = person_name(rng)
        if name not in seen:
            seen.add(name)
            yield name


def build_catalogue(rng: random.Random) -> DemoCatalogue:
    """The demo province in memory: regions, lines, halls, organisations, items, windows, staff."""
    regions: dict[str, DemoRegion] = {}
    for code, name, level, parent, profile, weight in _REGIONS:
        above = regions[parent] if parent else None
        full = name
        if above is not None and level is RegionLevel.county and code in _DISTRICTS:
            full = above.name + name
        elif above is not None and level is RegionLevel.township:
            full = above.full_name + name
        path = (above.path if above else "/") + code + "/"
        regions[code] = DemoRegion(code, name, full, level, parent, profile, path, weight)

    halls: list[DemoHall] = []
    centre: dict[str, str] = {}
    for region in regions.values():
        if region.level in (RegionLevel.city, RegionLevel.county):
            code = f"{region.code}-ZWFW"
            halls.append(DemoHall(code, f"{region.full_name}政务服务中心", region.code))
            centre[region.code] = code
    rongan_bdc = DemoHall("450224-BDC-FZX", "融安县不动产登记分中心", "450224", "450224-ZWFW")
    halls.append(rongan_bdc)
    townships = [r for r in regions.values() if r.level is RegionLevel.township]
    for town in townships:
        assert town.parent is not None
        halls.append(
            DemoHall(
                f"{town.code}-BMFW", f"{town.full_name}便民服务中心", town.code, centre[town.parent]
            )
        )

    people = _staff_names(rng)
    qualities = (0.3, 0.5, 0.8, 1.0, 1.0, 1.0, 1.3, 1.8, 3.0)
    orgs: list[DemoOrg] = []
    window_seq: dict[str, int] = {}

    def add_window(org: DemoOrg, hall: DemoHall, line: str, region_code: str) -> None:
        window_seq[hall.code] = window_seq.get(hall.code, 0) + 1
        n = window_seq[hall.code]
        window = DemoWindow(
            code=f"{hall.code}-W{n:02d}",
            name=f"{n}号{_WINDOW_NAMES[line]}",
            hall_code=hall.code,
            org_code=org.code,
            region_code=region_code,
        )
        for _ in range(rng.randint(2, 4)):
            staff_no = sum(len(w.staff) for w in org.windows) + len(window.staff) + 1
            window.staff.append(
                DemoStaff(f"{org.code}-{staff_no:02d}", next(people), rng.choice(qualities))
            )
        org.windows.append(window)

    halls_by_code = {h.code: h for h in halls}
    for region in regions.values():
        if region.code not in centre:
            continue
        city = regions[region.parent] if region.parent else None
        for line, _ in _LINES:
            org = DemoOrg(
                code=f"{region.code}-{line}",
                name=_org_name(region, city, line),
                region_code=region.code,
                line_code=line,
                quality=rng.choice(qualities),
            )
            for n, template in enumerate(_ITEMS[line], start=1):
                org.items.append(DemoItem(f"{org.code}-{n:02d}", template.name, org.code, template))
            hall = halls_by_code[centre[region.code]]
            if region.code == "450224" and line == "BDC":
                hall = rongan_bdc
            for _ in range(_WINDOWS_PER_LINE[line]):
                add_window(org, hall, line, region.code)
            if line in _TOWNSHIP_LINES:
                for town in townships:
                    if town.parent == region.code:
                        add_window(org, halls_by_code[f"{town.code}-BMFW"], line, town.code)
            orgs.append(org)

    return DemoCatalogue(
        regions=list(regions.values()),
        lines=list(_LINES),
        halls=halls,
        orgs=orgs,
        centre=centre,
    )


def load_catalogue(session: Session, catalogue: DemoCatalogue) -> None:
    """Insert the demo catalogue through the catalogue models; flushes, never commits."""
    for region in catalogue.regions:  # parents come first in the list
        session.add(
            Region(
                code=region.code,
                name=region.name,
                level=region.level.value,
                parent_code=region.parent,
                path=region.path,
                profile=region.profile,
            )
        )
    lines = {code: BusinessLine(code=code, name=name) for code, name in catalogue.lines}
    session.add_all(lines.values())
    session.flush()
    halls: dict[str, Hall] = {}
    for spec in catalogue.halls:  # a sub-centre comes after its parent
        hall = Hall(code=spec.code, name=spec.name, region_code=spec.region_code)
        if spec.parent_code is not None:
            session.flush()
            hall.parent_id = halls[spec.parent_code].id
        halls[spec.code] = hall
        session.add(hall)
    orgs = {
        o.code: Organization(
            code=o.code, name=o.name, region_code=o.region_code, line_id=lines[o.line_code].id
        )
        for o in catalogue.orgs
    }
    session.add_all(orgs.values())
    session.flush()
    windows: dict[str, Window] = {}
    for org in catalogue.orgs:
        for item in org.items:
            template = item.template
            session.add(
                ServiceItem(
                    code=item.code,
                    name=item.name,
                    org_id=orgs[org.code].id,
                    kind=template.kind.value,
                    handling=",".join(h.value for h in template.handling),
                    promised_days=template.promised_days,
                )
            )
        for w in org.windows:
            windows[w.code] = Window(
                code=w.code, name=w.name, hall_id=halls[w.hall_code].id, org_id=orgs[org.code].id
            )
    session.add_all(windows.values())
    session.flush()
    for org in catalogue.orgs:
        for w in org.windows:
            session.add_all(
                Staff(
                    code=s.code,
                    name=s.name,
                    org_id=orgs[org.code].id,
                    window_id=windows[w.code].id,
                )
                for s in w.staff
            )
    session.flush()
