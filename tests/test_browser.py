"""The pages as people use them, in real Chromium (Playwright, Debian's chromium), against the
real app on a real database (SQLite and PostgreSQL): locators by role and accessible name,
axe-core on every page at 1280 px and 390 px, a screenshot of each in artifacts/screenshots/.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Locator, Page, expect

from expertline.app import DATABASE
from router.context import engine_of
from skills.models import Expert
from skills.watch import EVERYTHING
from tests.browser_support import SHOTS, browser, no_serious_violations, sign_in_link, url

pytestmark = pytest.mark.browser





async def heard(log: Locator, line: str) -> None:
    """``line`` is in the transcript as a screen reader reads it (speaker label first)."""
    await expect(log).to_match_aria_snapshot(f'- log:\n  - paragraph: "{line}"')



async def test_the_landing_page_leads_to_chat_desk_and_console(site: TestServer) -> None:
    async with browser() as chromium:
        page = await chromium.new_page()
        await page.goto(url(site, "/"))
        await expect(page.get_by_role("heading", name="Expertline", level=1)).to_be_visible()
        await expect(page.get_by_text("If someone is in danger now, call 999.")).to_be_visible()
        # GOV.UK Frontend's components started (the skip link moves focus, error summaries
        # take focus): they start only once init.js has marked the body
        await expect(page.locator("a.govuk-skip-link")).to_have_attribute(
            "data-govuk-skip-link-init", "")
        await no_serious_violations(page, "landing")
        await page.get_by_role("link", name="Expert desk").first.click()
        await expect(page.get_by_role("heading", name="Sign in first")).to_be_visible()
        await expect(page.get_by_text("expertline sign-in-link --expert")).to_be_visible()
        await no_serious_violations(page, "sign-in-first")


async def test_an_expert_signs_in_with_a_link_and_the_desk_connects(site: TestServer) -> None:
    async with browser() as chromium:
        page = await chromium.new_page()
        await page.goto(await sign_in_link(site))
        await no_serious_violations(page, "sign-in")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="Expert desk")).to_be_visible()
        await expect(page.locator("#connection")).to_contain_text("Connected")
        for box in ("Calls", "Chats and texts"):  # takes neither: told, not made available
            await page.get_by_label(box).uncheck()
        await page.get_by_role("button", name="Available").click()
        await expect(page.locator("#takes-error")).to_contain_text("Choose calls")
        await expect(page.get_by_label("Calls")).to_be_focused()
        await expect(page.locator("#status-now")).not_to_contain_text("available")
        await page.get_by_label("Chats and texts").check()
        await expect(page.locator("#takes-error")).to_be_hidden()
        await page.get_by_role("button", name="Available").click()
        await expect(page.locator("#status-now")).to_contain_text("available")
        await no_serious_violations(page, "desk")


async def signed_in_desk(chromium: Any, site: TestServer, expert: str) -> Page:
    page = await (await chromium.new_context()).new_page()
    await page.goto(await sign_in_link(site, expert=expert))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#connection")).to_contain_text("Connected")
    await page.get_by_role("button", name="Available").click()
    await expect(page.locator("#status-now")).to_contain_text("available")
    return page


async def start_chat(chromium: Any, site: TestServer, lang: str, words: str,
                     label: str, button: str) -> Page:
    page = await (await chromium.new_context()).new_page()
    await page.goto(url(site, f"/chat?lang={lang}"))
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    error = page.locator("#first-words-error")
    await expect(error).to_be_hidden()  # no error before the citizen has done anything
    await no_serious_violations(page, f"chat-start-{lang}")
    await page.get_by_role("button", name=button).click()  # nothing typed yet
    await expect(error).to_be_visible()
    await expect(page.get_by_label(label)).to_be_focused()
    await page.get_by_label(label).fill(words)
    await page.get_by_role("button", name=button).click()
    return page


async def test_a_citizen_and_an_expert_talk_through_the_pages_and_a_reload_loses_nothing(
        site: TestServer) -> None:
    first_words = "My mum has dementia and keeps getting lost at night"
    async with site.app[DATABASE].transaction() as session:  # what Ann agreed to show
        ann = await session.get(Expert, "e-ann")
        assert ann is not None
        ann.public_name, ann.public_role, ann.show_organisation = "Ann", "dementia nurse", True
    await engine_of(site.app)._reload_pool(EVERYTHING)
    async with browser() as chromium:
        desk = await signed_in_desk(chromium, site, "e-ann")
        chat = await start_chat(chromium, site, "en", first_words,
                                "What do you need help with?", "Start chat")
        log = chat.get_by_role("log")
        await heard(log, "You said: " + first_words)  # a screen reader hears who spoke
        await expect(chat.locator("#chat-status")).not_to_have_text("Connecting…")

        offer = desk.get_by_role("alert")
        await expect(offer).to_contain_text(first_words)  # the citizen's own words ring
        await expect(offer).to_contain_text("Answer within")
        await expect(desk).to_have_title("(1) Offer \u2013 Expert desk \u2013 Expertline")
        await no_serious_violations(desk, "desk-offer")
        await desk.get_by_role("button", name="Accept").click()
        await expect(chat.locator("#chat-status")).to_contain_text(
            "chatting with Ann (dementia nurse, NHS-A)")
        await expect(desk.get_by_label("Your message (Chat 1: dementia)")).to_be_focused()

        await desk.get_by_label("Your message (Chat 1: dementia)").fill("Hello, I am Ann.")
        await desk.get_by_role("button", name="Send").click()
        await heard(log, "Expert said: Hello, I am Ann.")
        await expect(log).to_contain_text("Ann: Hello, I am Ann.")  # seen: her shown name
        await chat.get_by_label("Your message").fill("She went out at 3 am again")
        await chat.get_by_role("button", name="Send").click()
        await heard(desk.get_by_role("log"), "Citizen said: She went out at 3 am again")
        await expect(desk.get_by_role("log").locator(".expertline-line--expert")
                     ).to_have_count(1)  # its own line once, though the server echoes it
        await no_serious_violations(chat, "chat-conversation-en")
        link = "https://www.example.org/" + "averylongpathsegment" * 12  # no hyphen to break at
        await chat.get_by_label("Your message").fill(link)
        await chat.get_by_role("button", name="Send").click()
        await expect(log).to_contain_text("averylongpathsegment")
        await chat.set_viewport_size({"width": 320, "height": 640})  # a small phone
        assert await chat.evaluate("document.documentElement.scrollWidth") <= 320
        assert await log.evaluate("e => e.scrollWidth <= e.clientWidth")  # the link wraps
        await chat.screenshot(path=str(SHOTS / "chat-conversation-en-320.png"), full_page=True)
        await no_serious_violations(desk, "desk-conversation")

        await chat.reload()  # the page reloads: the chat carries on with its transcript
        await expect(log).to_contain_text("Ann: Hello, I am Ann.")
        await expect(log).to_contain_text("She went out at 3 am again")
        await expect(chat.locator("#chat-status")).to_contain_text("chatting with Ann")
        await expect(log.locator("p").last).to_contain_text(link)  # in the order it happened
        await chat.get_by_label("Your message").fill("Thank you")
        await chat.get_by_role("button", name="Send").click()
        await expect(desk.get_by_role("log")).to_contain_text("Thank you")

        await desk.get_by_role("button", name="Complete").click()
        await expect(desk.get_by_role("button", name="End wrap-up now")).to_be_visible()
        await expect(chat.locator("#finished")).to_be_visible()
        await expect(chat.locator("#finished-text")).to_be_focused()
        await expect(chat.get_by_role("button", name="Print or save the conversation")
                     ).to_be_visible()  # the ended conversation can still be kept
        await no_serious_violations(desk, "desk-wrapup")
        await desk.get_by_role("button", name="End wrap-up now").click()
        await expect(desk.locator("#status-now")).to_contain_text("available")
        await expect(desk.locator("#status-now")).to_be_focused()  # not lost to the page top


async def test_a_welsh_chat_is_welsh_throughout(site: TestServer) -> None:
    async with browser() as chromium:
        desk = await signed_in_desk(chromium, site, "e-bob")  # bob speaks Welsh
        chat = await start_chat(chromium, site, "cy", "Mae gan fy nhad dementia",
                                "Gyda beth sydd angen help arnoch chi?", "Dechrau sgwrs")
        log = chat.get_by_role("log")
        await heard(log, "Dywedoch chi: Mae gan fy nhad dementia")
        await expect(chat.get_by_role("button", name="Anfon")).to_be_visible()
        await expect(chat.get_by_role("button", name="Gorffen y sgwrs")).to_be_visible()
        await desk.get_by_role("button", name="Accept").click()
        await desk.get_by_label("Your message (Chat 1: dementia)").fill("Bore da")
        await desk.get_by_role("button", name="Send").click()
        await heard(log, "Dywedodd yr arbenigwr: Bore da")
        await no_serious_violations(chat, "chat-conversation-cy")
        await chat.get_by_role("button", name="Gorffen y sgwrs").click()
        await expect(chat.locator("#finished")).to_contain_text("Mae'r sgwrs wedi dod i ben")


async def test_a_dropped_desk_reconnects_by_itself_and_keeps_its_offer(site: TestServer) -> None:
    from router.desk_ws import QUEUE_LIMIT

    async with browser() as chromium:
        desk = await signed_in_desk(chromium, site, "e-ann")
        await start_chat(chromium, site, "en", "My dad has dementia", "What do you need help with?",
                         "Start chat")
        await expect(desk.get_by_role("alert")).to_contain_text("My dad has dementia")
        [sink] = engine_of(site.app)._desks["e-ann"]
        for n in range(QUEUE_LIMIT + 1):  # a burst the desk cannot take: the server closes it
            sink({"type": "state", "state": "offered", "reason": f"burst {n}"})
        await expect(desk.locator("#connection")).to_contain_text("Reconnecting")
        await expect(desk.locator("#connection")).to_contain_text("Connected", timeout=10_000)
        await expect(desk.get_by_role("alert")).to_contain_text("My dad has dementia")
        await expect(desk.get_by_role("alert")).to_have_count(1)
        await desk.get_by_role("button", name="Accept").click()
        await expect(desk.get_by_role("tab")).to_have_count(1)
