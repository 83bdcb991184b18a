"""The unified evaluation page (一事一评, D2, D3) through plain HTTP, as a browser without
JavaScript sees it: the service, five levels, labels by level (B4), the B6 refusal, the
confirmation, the duplicate refused with the follow-up offered (C6), the channel (D5), the
elder mode, the terminal's way back, and nothing of the rater's identity (C9)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from haochaping.app import create_app
from haochaping.catalog.models import Region
from haochaping.channels import links
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.evaluations import service as evaluations
from haochaping.evaluations.models import Evaluation, FollowUp
from haochaping.pii import keyring as pii_keyring
from haochaping.policy.loader import clear_cache
from tests.factories import T0, make_catalog, occasions_of, register

NOW = T0 + timedelta(hours=1)
KIOSK = "https://kiosk.example.gov.cn"
PHONE_UA = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Mobile Safari/537.36"
PC_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36"
B6_MESSAGE = "评价为“不满意”或“非常不满意”时，请至少选择一项评价内容或填写意见"

# 融水 gets a profile whose catalogue also has labels for 基本满意, and shows staff by number.
PAGE_PROFILE = """\
name: ra_page
title: 测试配置：基本满意也有评价内容，工作人员只显示工号
version: "test-page-1"
extends: rongan
staff_shown: number
labels:
  version: "test-labels-1"
  labels:
    - {code: attitude.3, group: 服务态度, name: 工作人员服务态度生硬, levels: [1, 2]}
    - {code: efficiency.3, group: 服务效率, name: 排队等候时间长、重复取号排队, levels: [1, 2]}
    - {code: wait.3, group: 服务效率, name: 等候时间略长, levels: [3]}
    - {code: praise.5, group: 服务态度, name: 热情周到, levels: [4, 5]}
"""


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "ra_page.yaml").write_text(PAGE_PROFILE, encoding="utf-8")
    monkeypatch.setenv("HCP_POLICY_DIR", str(directory))
    monkeypatch.setenv("HCP_TERMINAL_RETURN_ORIGINS", KIOSK)
    get_settings.cache_clear()
    clear_cache()
    yield
    get_settings.cache_clear()
    clear_cache()


@dataclass
class World:
    db: Database
    # case number -> link path
    paths: dict[str, str]
    occasions: dict[str, int]


def build_world(db: Database) -> World:
    """Cases of 融安 (GX rules) and one of 融水 under the test profile, with their links."""
    paths: dict[str, str] = {}
    occasions: dict[str, int] = {}
    with db.transaction() as session:
        make_catalog(session)
        region = session.scalar(select(Region).where(Region.code == "450225"))
        assert region is not None
        region.profile = "ra_page"
        session.flush()
        specs = [
            *((f"P-{n}", "I-IMM", {"staff_code": "S1", "window_code": "W1"}) for n in range(1, 9)),
            ("P-LVL", "I-O4", {"staff_code": "S5"}),
            ("P-ONLINE", "I-IMM", {"handling": "online"}),
        ]
        for case_no, item, extra in specs:
            occasion = occasions_of(session, register(session, case_no, item, **extra))[0]
            occasions[case_no] = occasion.id
            paths[case_no] = links.occasion_url(session=session, occasion_id=occasion.id, now=NOW)
    return World(db, paths, occasions)


def make_client(db: Database, clock: Callable[[], datetime] = lambda: NOW) -> TestClient:
    app = create_app(db, clock=clock, tick_interval=0)
    return TestClient(app, raise_server_exceptions=True, follow_redirects=False)


@pytest.fixture
def world(committed_db: Database, settings_env: None) -> World:
    return build_world(committed_db)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with make_client(world.db) as tc:
        yield tc


def form_token(html: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', html)
    assert found, "the form carries its token"
    return found.group(1)


def stored(db: Database, occasion_id: int) -> list[Evaluation]:
    with db.transaction() as session:
        return list(
            session.scalars(select(Evaluation).where(Evaluation.occasion_id == occasion_id))
        )


def post_rating(tc: TestClient, path: str, **fields: str | list[str]) -> httpx.Response:
    page = tc.get(path)
    assert page.status_code == 200, page.text
    data: dict[str, str | list[str]] = {"form_token": form_token(page.text), **fields}
    return tc.post(path.split("?")[0], data=data)


def test_page_shows_the_service_levels_and_nothing_of_the_rater(
    client: TestClient, world: World
) -> None:
    r = client.get(world.paths["P-1"])
    assert r.status_code == 200
    page = r.text
    for shown in ("事项I-IMM", "融安县公安局", "W1号窗口", "融安县政务服务中心", "P-1"):
        assert shown in page
    assert "工作人员S1（工号 S1）" in page
    names = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    radios = re.findall(
        r'<input type="radio" name="level" value="(\d)" id="level-\d"( checked)?', page
    )
    assert [v for v, _ in radios] == ["5", "4", "3", "2", "1"]
    # C10: nothing is chosen in advance.
    assert not any(checked for _, checked in radios)
    for name in names:
        assert f"<span>{name}</span>" in page
    # B4: the labels of the bad levels, marked for those levels, grouped by the catalogue.
    assert 'class="labels for-1 for-2" data-levels="1 2"' in page
    for group in ("服务态度", "服务质量", "服务效率", "服务环境"):
        assert f"<legend>{group}</legend>" in page
    assert page.count('type="checkbox" name="label"') == 21
    # C9: the rater's name, ID number and phone never reach the page.
    for secret in ("张三丰", "450224199001011234", "13812348000", "4502", "138"):
        assert secret not in page
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert client.cookies.get("hcp_elder") is None


def test_labels_follow_the_profile_catalogue_by_level(client: TestClient, world: World) -> None:
    page = client.get(world.paths["P-LVL"]).text
    assert 'class="labels for-1 for-2" data-levels="1 2"' in page
    assert 'class="labels for-3" data-levels="3"' in page
    assert 'class="labels for-4 for-5" data-levels="4 5"' in page
    assert "等候时间略长" in page and "热情周到" in page
    # The profile shows staff by number only.
    assert "工号 S5" in page and "工作人员S5" not in page
    # A label of another level is refused by the evaluation service's own check (B4).
    r = post_rating(client, world.paths["P-LVL"], level="3", label=["attitude.3"])
    assert r.status_code == 422
    assert "所选评价内容不适用于该评价等级" in r.text
    assert not stored(world.db, world.occasions["P-LVL"])
    r = post_rating(client, world.paths["P-LVL"], level="3", label=["wait.3"])
    assert r.status_code == 303
    (evaluation,) = stored(world.db, world.occasions["P-LVL"])
    assert evaluation.label_codes == ["wait.3"] and evaluation.labels_version == "test-labels-1"


def test_bad_review_without_reason_is_refused_then_accepted_with_one(
    client: TestClient, world: World
) -> None:
    path = world.paths["P-1"]
    r = post_rating(client, path, level="1", text="   ")
    assert r.status_code == 422
    page = r.text
    assert B6_MESSAGE in page and 'role="alert"' in page
    # The choice is kept on the page shown again.
    assert 'value="1" id="level-1" checked' in page
    assert not stored(world.db, world.occasions["P-1"])

    r = post_rating(client, path, level="1", label=["attitude.3", "efficiency.3"])
    assert r.status_code == 303
    done = r.headers["location"]
    assert done == path + "/done"
    page = client.get(done).text
    assert "评价已提交，感谢您的评价！" in page
    assert "非常不满意" in page and "工作人员服务态度生硬" in page
    assert "我们会及时核实处理" in page
    (evaluation,) = stored(world.db, world.occasions["P-1"])
    assert evaluation.level == 1 and evaluation.is_bad
    assert evaluation.label_codes == ["attitude.3", "efficiency.3"]
    assert evaluation.channel == 1  # PC: no flag, a desktop browser (TestClient's agent)


def test_text_alone_is_reason_enough_and_level_is_required(
    client: TestClient, world: World
) -> None:
    path = world.paths["P-2"]
    r = post_rating(client, path)
    assert r.status_code == 422 and "请选择您对本次服务的满意程度" in r.text
    r = post_rating(client, path, level="2", text="窗口让我补了三次材料")
    assert r.status_code == 303
    (evaluation,) = stored(world.db, world.occasions["P-2"])
    assert evaluation.text == "窗口让我补了三次材料" and evaluation.label_codes == []


def test_second_rating_is_refused_and_the_follow_up_offered_once(
    client: TestClient, world: World
) -> None:
    path = world.paths["P-3"]
    assert post_rating(client, path, level="5").status_code == 303
    page = client.get(path)
    assert page.status_code == 200
    assert "该办件此环节已评价" in page.text and "不能重复评价" in page.text
    assert 'action="' + path + '/follow-up"' in page.text
    assert "前追加评价一次" in page.text
    # A second submission (an old tab) is refused, nothing changes (C1).
    token = form_token(page.text)
    r = client.post(path, data={"form_token": token, "level": "1", "text": "改成差评"})
    assert r.status_code == 409 and "该办件此环节已评价" in r.text
    (evaluation,) = stored(world.db, world.occasions["P-3"])
    assert evaluation.level == 5

    r = client.post(path + "/follow-up", data={"form_token": token, "text": ""})
    assert r.status_code == 422 and "追加评价请填写意见或选择评价内容" in r.text
    r = client.post(path + "/follow-up", data={"form_token": token, "text": "窗口还主动帮我复印"})
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "追加评价已提交" in page.text and "窗口还主动帮我复印" in page.text
    with world.db.transaction() as session:
        (follow,) = session.scalars(
            select(FollowUp).where(FollowUp.evaluation_id == evaluation.id)
        ).all()
        assert follow.text == "窗口还主动帮我复印"
    # C6: only one follow-up; the form is no longer offered, a replay is refused.
    page = client.get(path)
    assert "/follow-up" not in page.text and "您已追加过评价" in page.text
    r = client.post(path + "/follow-up", data={"form_token": token, "text": "再补充"})
    assert r.status_code == 409 and "该评价已追加过一次" in r.text


@pytest.mark.parametrize(
    ("via", "agent", "channel"),
    [("qr", PHONE_UA, 3), ("terminal", PC_UA, 5), ("sms", PHONE_UA, 7), (None, PHONE_UA, 2)],
)
def test_channel_follows_the_link_flag(
    client: TestClient, world: World, via: str | None, agent: str, channel: int
) -> None:
    path = world.paths["P-4"] + (f"?via={via}" if via else "")
    client.headers["user-agent"] = agent
    page = client.get(path).text
    data = {"form_token": form_token(page), "level": "4"}
    if via:
        assert f'name="via" value="{via}"' in page
        data["via"] = via
    r = client.post(world.paths["P-4"], data=data)
    assert r.status_code == 303
    assert r.headers["location"].endswith("/done" + (f"?via={via}" if via else ""))
    (evaluation,) = stored(world.db, world.occasions["P-4"])
    assert evaluation.channel == channel


def test_forms_need_their_token_and_the_same_site(client: TestClient, world: World) -> None:
    path = world.paths["P-5"]
    r = client.post(path, data={"level": "5"})
    assert r.status_code == 403 and "页面已过期" in r.text
    r = client.post(path, data={"level": "5", "form_token": links.form_token("other")})
    assert r.status_code == 403
    token = form_token(client.get(path).text)
    r = client.post(
        path, data={"level": "5", "form_token": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert r.status_code == 403
    assert not stored(world.db, world.occasions["P-5"])
    assert client.post(path, data={"level": "5", "form_token": token}).status_code == 303


def test_damaged_and_expired_links_get_a_clear_page(world: World) -> None:
    path = world.paths["P-6"]
    with make_client(world.db) as tc:
        for bad in (path[:-1] + ("A" if path[-1] != "A" else "B"), "/r/abc", "/r/" + "x" * 300):
            r = tc.get(bad)
            assert r.status_code == 404, bad
            assert r.headers["content-type"].startswith("text/html")
            assert "评价链接无效" in r.text and "Traceback" not in r.text
        r = tc.post("/r/abc", data={"level": "1"})
        assert r.status_code == 404 and "评价链接无效" in r.text
    # Past the rating window, the link (alive for the follow-up) says the window closed.
    with make_client(world.db, lambda: T0 + timedelta(days=8)) as tc:
        r = tc.get(path)
        assert r.status_code == 422 and "评价期限已于" in r.text and "事项I-IMM" in r.text
    with make_client(world.db, lambda: T0 + timedelta(days=23)) as tc:
        r = tc.get(path)
        assert r.status_code == 410 and "评价链接已于" in r.text and "过期" in r.text


def test_default_rating_is_shown_without_a_follow_up(world: World) -> None:
    with world.db.transaction() as session:
        evaluations.apply_default(session, world.occasions["P-7"], T0 + timedelta(days=7))
    with make_client(world.db, lambda: T0 + timedelta(days=8)) as tc:
        page = tc.get(world.paths["P-7"]).text
    assert "系统已按规定作出默认评价" in page and "系统默认评价不能追加评价" in page
    assert "/follow-up" not in page


def test_elder_mode_is_switched_on_every_page_and_remembered(
    client: TestClient, world: World
) -> None:
    path = world.paths["P-8"] + "?via=qr"
    page = client.get(path).text
    assert '<html lang="zh-CN">' in page and "切换到大字关怀版" in page
    switch = re.search(r'id="mode-switch" href="([^"]+)"', page)
    assert switch
    r = client.get(switch.group(1).replace("&amp;", "&"))
    assert r.status_code == 303 and r.headers["location"] == path
    assert "hcp_elder=1" in r.headers["set-cookie"] and "Max-Age" in r.headers["set-cookie"]
    client.cookies.set("hcp_elder", "1")
    page = client.get(path).text
    assert '<html lang="zh-CN" class="elder">' in page and "切换到标准版" in page
    # Refusal pages have it too, and keep it.
    r = client.get("/r/abc")
    assert 'class="elder"' in r.text and 'id="mode-switch"' in r.text
    # Never a way out of the site: the target is always the link's own page.
    r = client.get("/r/abc/mode?elder=0&then=done&via=terminal&back=https://evil.example.com/")
    assert r.status_code == 303 and r.headers["location"] == "/r/abc/done?via=terminal"
    assert r.status_code == 303 and 'hcp_elder=""' in r.headers["set-cookie"]
    assert client.get("/r/abc/mode?then=//evil.example.com").status_code == 422


def test_terminal_goes_back_to_its_home_page_after_the_rating(
    client: TestClient, world: World
) -> None:
    home = f"{KIOSK}/home"
    path = (
        world.paths["P-ONLINE"]
        + "?via=terminal&back="
        + home.replace(":", "%3A").replace("/", "%2F")
    )
    r = post_rating(client, path, level="5", via="terminal", back=home)
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert f'<meta http-equiv="refresh" content="15;url={home}">' in page
    assert f'href="{home}"' in page and "返回首页" in page
    (evaluation,) = stored(world.db, world.occasions["P-ONLINE"])
    assert evaluation.channel == 5


def test_a_return_address_outside_the_allow_list_is_ignored(
    client: TestClient, world: World
) -> None:
    path = world.paths["P-6"] + "?via=terminal&back=https%3A%2F%2Fevil.example.com%2F"
    page = client.get(path).text
    assert "evil.example.com" not in page
    r = post_rating(client, path, level="5", via="terminal", back="https://evil.example.com/")
    page = client.get(r.headers["location"]).text
    assert "evil.example.com" not in page and "http-equiv" not in page


def test_first_load_stays_under_100_kb(client: TestClient, world: World) -> None:
    page = client.get(world.paths["P-1"])
    assets = re.findall(r'(?:href|src)="(/r-static/[^"]+)"', page.text)
    assert sorted(assets) == ["/r-static/rate.css", "/r-static/rate.js"]
    sizes = [len(page.content)]
    for asset in assets:
        r = client.get(asset)
        assert r.status_code == 200
        sizes.append(len(r.content))
    total = sum(sizes)
    print(f"first load: HTML {sizes[0]} B + CSS/JS {sizes[1:]} B = {total} B")
    assert total < 100 * 1024


def test_no_form_input_yields_a_server_error(client: TestClient, world: World) -> None:
    path = world.paths["P-5"]
    token = form_token(client.get(path).text)
    junk: list[dict[str, str | list[str]]] = [
        {"level": "9"},
        {"level": ""},
        {"level": "١"},
        {"level": "1", "label": ["x" * 500]},
        {"level": "1", "label": [f"l{n}" for n in range(40)]},
        {"level": "2", "text": "有\x00空字符"},
        {"level": "2", "text": "长" * 1500},
        {"level": "2", "text": "长" * 5000},
        {"level": "1", "label": ["attitude.1", "attitude.1"]},
    ]
    for fields in junk:
        r = client.post(path, data={"form_token": token, **fields})
        assert r.status_code in (403, 422), (fields, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
        assert "<script>" not in r.text
    r = client.post(path + "/follow-up", data={"form_token": token, "text": "x\x00"})
    assert r.status_code == 303  # not rated yet: back to the rating form
    assert not stored(world.db, world.occasions["P-5"])
    for query in ("?via=%00", "?back=" + "x" * 3000, "?via=qr&via=sms"):
        assert client.get(path + query).status_code < 500
    # Past ten submissions a minute on one link, a page asks to wait (rate limit).
    r = client.post(path, data={"form_token": token, "level": "5"})
    assert r.status_code == 429 and "操作过于频繁" in r.text and r.headers["retry-after"]
    # An unknown flag and a foreign return address are dropped, the rating stands.
    other = world.paths["P-6"]
    r = client.post(
        other,
        data={
            "form_token": form_token(client.get(other).text),
            "level": "5",
            "via": "<script>",
            "back": "javascript:1",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == other + "/done"


def test_a_bundle_is_rated_as_one_matter(client: TestClient, world: World) -> None:
    """C2: the overall occasion of a 一件事 names the matter, every item and organisation."""
    with world.db.transaction() as session:
        for case_no, item in (("B-1a", "I-IMM"), ("B-1b", "I-O2")):
            case = register(session, case_no, item, bundle_no="B-1", bundle_name="开办餐饮店一件事")
        overall = next(o for o in occasions_of(session, case) if o.stage == "overall")
        path = links.occasion_url(session=session, occasion_id=overall.id, now=NOW)
    page = client.get(path).text
    assert "开办餐饮店一件事" in page and "整体评价" in page
    assert "事项I-IMM、事项I-O2" in page and "融安县公安局、融安县不动产登记中心" in page
    assert "工作人员" not in page.split("<main", 1)[1].split("</section>", 1)[0]
    r = post_rating(client, path, level="4")
    assert r.status_code == 303
    (evaluation,) = stored(world.db, overall.id)
    assert evaluation.bundle_id is not None and evaluation.level == 4


def test_a_server_side_problem_is_a_plain_page_without_details(
    client: TestClient, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The key file of the settings does not exist (whatever other tests left behind).
    monkeypatch.setenv("HCP_KEY_FILE", str(tmp_path / "missing-keys.json"))
    get_settings.cache_clear()
    previous = pii_keyring.configure(None)
    try:
        r = client.get(world.paths["P-1"])
    finally:
        pii_keyring.configure(previous)
        monkeypatch.undo()
        get_settings.cache_clear()
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "系统繁忙" in r.text and "keys.json" not in r.text and "Traceback" not in r.text


def test_zz_late_rating_within_and_after_the_supplementary_window(world: World) -> None:
    """C8 (ZZ): on-site, not rated on the spot: within 5 working days a late rating is taken
    (and marked supplementary), afterwards the page says which limit passed."""
    with world.db.transaction() as session:
        occasion = occasions_of(session, register(session, "ZZ-1", "I-ZZ", staff_code="SZ"))[0]
        path = links.occasion_url(session=session, occasion_id=occasion.id, now=NOW)
        rate_until = occasion.rate_until
    with make_client(world.db, lambda: rate_until + timedelta(minutes=1)) as tc:
        r = tc.get(path)
        assert r.status_code == 422 and "须在办理之日起5个工作日内补充评价" in r.text
    with make_client(world.db, lambda: T0 + timedelta(days=1)) as tc:
        assert post_rating(tc, path, level="4").status_code == 303
    (evaluation,) = stored(world.db, occasion.id)
    assert evaluation.supplementary
