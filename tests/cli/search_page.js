// The search page of `clip serve --index` in headless Chromium (Debian's, driven by
// playwright-core): types QUERY, waits for the thumbnails, checks every one loaded, saves a
// screenshot, and prints the files shown, in order, as JSON.
// Usage: node search_page.js URL QUERY SCREENSHOT.png
const { chromium } = require("playwright-core");

(async () => {
  const [url, query, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    await page.goto(url);
    await page.fill("#q", query);
    await page.press("#q", "Enter");
    await page.waitForSelector("figure img");
    await page.waitForFunction(() => [...document.images].every((img) => img.complete));
    const shown = await page.$$eval("figure img", (imgs) => imgs.map((img) => ({ file: img.alt, width: img.naturalWidth })));
    const status = await page.textContent("#status");
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(JSON.stringify({ status, shown }));
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
