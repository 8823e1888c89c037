// A GreenLake webhook handler with Node's https module: answers the challenge, verifies
// Hpe-Webhook-Signature over the raw body, appends the event to a file.
const https = require("https");
const crypto = require("crypto");
const fs = require("fs");

const secret = process.env.GLWATCH_SECRET;
const port = Number(process.env.PORT || 9445);
const out = fs.openSync(process.env.BENCH_OUT || "node-events.jsonl", "a");
const options = {
  cert: fs.readFileSync(process.env.CERT),
  key: fs.readFileSync(process.env.KEY),
};

https
  .createServer(options, (req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      let payload;
      try {
        payload = JSON.parse(body);
      } catch (e) {
        res.writeHead(400).end();
        return;
      }
      if (payload && payload.data && typeof payload.data.challengeRequest === "string") {
        const v = crypto.createHmac("sha256", secret).update(payload.data.challengeRequest).digest("hex");
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ verification: v }));
        return;
      }
      const given = Buffer.from((req.headers["hpe-webhook-signature"] || "").toLowerCase());
      const expected = Buffer.from("sha256=" + crypto.createHmac("sha256", secret).update(body).digest("hex"));
      if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
        res.writeHead(401).end();
        return;
      }
      fs.write(out, Buffer.concat([body, Buffer.from("\n")]), (err) => {
        res.writeHead(err ? 503 : 200).end();
      });
    });
  })
  .listen(port, "127.0.0.1");
