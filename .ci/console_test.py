"""Headless-browser walk through the console; driven by .ci/console.sh (env LC_URL, LC_TOKEN, ...)."""
import json, os, re, sys, time
from playwright.sync_api import sync_playwright, expect

URL, TOKEN = os.environ["LC_URL"], os.environ["LC_TOKEN"]
RECEIVER, RECEIVED, SHOTS = os.environ["LC_RECEIVER"], os.environ["LC_RECEIVED"], os.environ["LC_SHOTS"]
API_KEY = "sk-console-test-0123456789abcdef"
errors = []

def received():
    try:
        with open(RECEIVED) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []

def nav(page, name):
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()
    page.wait_for_load_state("networkidle")

def shot(page, name):
    page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    # Before sign-in the console's first call is answered 401 (that is how it learns a token is
    # needed); the browser logs that answer, which is not a script error.
    def on_console(m):
        if m.type != "error":
            return
        if "status of 401" in m.text and not signed_in[0]:
            return
        errors.append(f"console error: {m.text}")
    signed_in = [False]
    page.on("console", on_console)
    page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda r: r.abort())
    page.goto(URL + "/")
    tok = page.get_by_label("Admin token")
    tok.wait_for(timeout=5000)
    tok.fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    signed_in[0] = True

    # Integrations
    nav(page, "Integrations")
    page.get_by_role("button", name="Add Integration").click()
    page.get_by_role("dialog").get_by_role("button", name="Webhook").click()
    dlg = page.get_by_role("dialog")
    dlg.get_by_label("Name").fill("Console receiver")
    dlg.get_by_label("API URL").fill(RECEIVER)
    dlg.get_by_label("API Key").fill(API_KEY)
    dlg.locator("summary", has_text="Advanced").click()
    expect(dlg.get_by_label("Auth header")).to_be_visible()
    expect(dlg.get_by_label("Auth prefix")).to_be_visible()
    dlg.get_by_role("button", name=re.compile(r"^Generate")).click()
    expect(dlg.get_by_label("Signing secret")).to_have_value(re.compile(r"^whsec_"))
    dlg.get_by_role("button", name="Save").click()
    page.wait_for_timeout(500)
    if dlg.count(): print("integration form says:", dlg.get_by_role("status").all_inner_texts(), file=sys.stderr)
    expect(page.get_by_role("heading", name="Console receiver")).to_be_visible()
    assert API_KEY not in page.content(), "the API key is in the page"
    expect(page.get_by_text(API_KEY[-4:])).to_be_visible()
    shot(page, "integrations-desktop")

    # Test send
    page.get_by_role("button", name="Test", exact=True).click()
    dlg = page.get_by_role("dialog")
    for label in ["Email", "Instagram username", "TikTok username", "Discount code"]:
        expect(dlg.get_by_label(label, exact=True)).to_be_visible()
    dlg.get_by_label("Email", exact=True).fill("edited@example.com")
    expect(dlg.get_by_label("Raw JSON")).to_contain_text("edited@example.com")
    dlg.get_by_role("button", name="Send test", exact=True).click()
    expect(dlg.get_by_role("status").filter(has_text="200").first).to_be_visible(timeout=15000)
    bodies = [json.loads(r["body"]) for r in received()]
    assert any(b.get("email") == "edited@example.com" for b in bodies), f"receiver got {bodies}"
    expect(dlg.get_by_role("button", name="Copy as curl")).to_be_visible()
    assert API_KEY not in page.content(), "the API key is in the test result"
    shot(page, "test-dialog-desktop")
    dlg.get_by_role("button", name="Close").click()

    # Rewards
    nav(page, "Rewards")
    page.get_by_role("button", name="New rule").click()
    dlg = page.get_by_role("dialog")
    dlg.get_by_label("Name", exact=True).fill("2 Story posts")
    dlg.get_by_role("group", name="Post types").get_by_label("STORY").check()
    dlg.get_by_label("Count").fill("2")
    dlg.get_by_label("Code prefix").fill("STORY-")
    dlg.get_by_role("button", name="Create rule").click()
    row = page.get_by_role("row").filter(has_text="2 Story posts")
    expect(row).to_be_visible()
    expect(row.get_by_role("cell").nth(3)).to_have_text("0")
    shot(page, "rewards-desktop")

    # Creators
    nav(page, "Creators")
    page.get_by_label("Email", exact=True).fill("ana@example.com")
    page.get_by_label("Instagram username").fill("ana")
    page.get_by_role("button", name="Add creator").click()
    sec = page.get_by_role("region", name="ana@example.com")
    expect(sec).to_be_visible()
    sec.get_by_label("Post type").select_option("STORY")
    for n in (1, 2):
        sec.get_by_role("button", name="Simulate post").click()
        expect(sec.get_by_role("status").filter(has_text=f"Post {n} ")).to_be_visible(timeout=10000)
    expect(sec.get_by_text(re.compile(r"^STORY-"))).to_be_visible(timeout=10000)
    shot(page, "creators-desktop")

    # Delivery log
    nav(page, "Delivery log")
    expect(page.get_by_text("Pending:")).to_be_visible()
    expect(page.get_by_text("Failed:")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Reward").filter(has_text="succeeded")
    expect(row.first).to_be_visible(timeout=15000)
    shot(page, "log-desktop")
    row.first.get_by_role("button", name=re.compile(r"^Open")).click()
    dlg = page.get_by_role("dialog")
    expect(dlg.get_by_role("heading", name="Attempts")).to_be_visible()
    expect(dlg.get_by_role("heading", name="Request headers")).to_be_visible()
    expect(dlg.get_by_role("row", name=re.compile(r"webhook-signature", re.I))).to_be_visible()
    expect(dlg.get_by_role("cell", name="200", exact=True).first).to_be_visible()
    assert API_KEY not in page.content(), "the API key is in the delivery dialog"
    dlg.get_by_role("button", name="Retry", exact=True).click()
    dlg.get_by_role("button", name="Retry now").click()
    expect(dlg.get_by_role("row").filter(has=page.get_by_role("cell", name="2", exact=True))).to_be_visible(timeout=10000)
    shot(page, "delivery-dialog-desktop")
    dlg.get_by_role("button", name="Close").click()
    page.get_by_label("Search").fill("ana@example.com")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("row").filter(has_text="Reward").first).to_be_visible()

    # Replay and the payload format
    nav(page, "Integrations")
    expect(page.get_by_text("medias (the original)")).to_be_visible()
    page.get_by_role("button", name="Replay failed").click()
    dlg = page.get_by_role("dialog")
    expect(dlg.get_by_label("Since")).to_be_visible()
    dlg.get_by_role("button", name="Replay", exact=True).click()
    expect(dlg.get_by_role("status").filter(has_text="queued again")).to_be_visible(timeout=10000)
    dlg.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Edit", exact=True).click()
    dlg = page.get_by_role("dialog")
    dlg.locator("summary", has_text="Advanced").click()
    dlg.get_by_label("Payload format").select_option("posts")
    dlg.get_by_role("button", name="Save").click()
    expect(page.get_by_text("posts (with each post's platform)")).to_be_visible()
    page.get_by_role("button", name="Test", exact=True).click()
    dlg = page.get_by_role("dialog")
    expect(dlg.get_by_label("Posts (JSON)")).to_be_visible()
    expect(dlg.get_by_label("Raw JSON")).to_contain_text('"platform": "instagram"')
    dlg.get_by_role("button", name="Send test", exact=True).click()
    expect(dlg.get_by_role("status").filter(has_text="200").first).to_be_visible(timeout=15000)
    bodies = [json.loads(r["body"]) for r in received()]
    assert any("posts" in b for b in bodies), f"no posts body among {bodies}"
    dlg.get_by_role("button", name="Close").click()

    # Phone width
    page.set_viewport_size({"width": 390, "height": 844})
    for name, slug in [("Integrations", "integrations"), ("Rewards", "rewards"), ("Creators", "creators"), ("Delivery log", "log")]:
        nav(page, name)
        page.wait_for_timeout(300)
        sw = page.evaluate("document.documentElement.scrollWidth")
        assert sw <= 390, f"{name} is {sw}px wide at phone width"
        shot(page, f"{slug}-phone")
    browser.close()

if errors:
    print("browser errors:\n" + "\n".join(errors), file=sys.stderr)
    sys.exit(1)
print("console test: 1 passed, 0 failed")
