// Reference "E": the task read and create by hand, Express 5 on pg, nothing else.
//
// No auth, request log, request id, limits or problem+json: the ceiling a generated service is
// measured against. Run by bench/http_tasks.py: DATABASE_URL=postgresql://... node server.mjs
import express from "express";
import pg from "pg";

const COLUMNS = "id, title, description, status, owner_id, created_at, updated_at";
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.POOL_SIZE ?? 10),
});

const app = express();
app.use(express.json());
app.get("/healthz", (_req, res) => {
  res.json({});
});
app.get("/api/v1/tasks/:id", async (req, res) => {
  const { rows } = await pool.query({
    name: "read-task",
    text: `SELECT ${COLUMNS} FROM tasks WHERE id = $1 AND owner_id = $2`,
    values: [Number(req.params.id), 1],
  });
  if (rows.length === 0) res.sendStatus(404);
  else res.json(rows[0]);
});
app.post("/api/v1/tasks", async (req, res) => {
  const { rows } = await pool.query({
    name: "create-task",
    text:
      "INSERT INTO tasks (owner_id, title, description, status, created_at, updated_at)" +
      ` VALUES ($1, $2, $3, 'pending', now(), now()) RETURNING ${COLUMNS}`,
    values: [1, req.body.title, req.body.description ?? null],
  });
  res.status(201).json(rows[0]);
});

const server = app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? "127.0.0.1");
process.on("SIGTERM", () => {
  server.close(() => void pool.end());
});
