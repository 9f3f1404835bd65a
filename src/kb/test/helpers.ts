import { Database } from "bun:sqlite";
import * as sqliteVec from "sqlite-vec";
import { type Embedder, HashEmbedder, type HashEmbedderOptions } from "../embedder.ts";
import { KnowledgeBase, type KnowledgeBaseOptions } from "../engine.ts";
import { kbMigrations } from "../migrations.ts";

/** An in-memory database with sqlite-vec loaded and the kb schema applied. */
export function memoryDb(): Database {
  const db = new Database(":memory:");
  sqliteVec.load(db);
  for (const m of kbMigrations) db.run(m.sql);
  return db;
}

/** The built-in embedder with a hook that runs (and is awaited) before each batch: lets a test act mid-embedding. */
export class HookedEmbedder implements Embedder {
  private readonly inner: HashEmbedder;
  readonly id: string;
  readonly dim: number;
  constructor(options?: HashEmbedderOptions) {
    this.inner = new HashEmbedder(options);
    this.id = this.inner.id;
    this.dim = this.inner.dim;
  }
  before: ((texts: string[]) => Promise<void> | void) | null = null;
  async embed(texts: string[]): Promise<Float32Array[]> {
    await this.before?.(texts);
    return this.inner.embed(texts);
  }
}

export function openKb(options: KnowledgeBaseOptions = {}, db = memoryDb()): Promise<KnowledgeBase> {
  return KnowledgeBase.open(db, options);
}

export const SHOP_FAQ = [
  { id: "returns", question: "如何申请退货退款？", answer: "在订单页点击“申请售后”，选择退货退款。", alts: ["怎么退货", "我想退货", "收到的商品可以退吗"] },
  { id: "shipping", question: "多久发货？", answer: "付款后 48 小时内发货。", alts: ["什么时候发货", "发货要几天"] },
  { id: "invoice", question: "可以开发票吗？", answer: "可以，在订单详情页申请电子发票。", alts: ["怎么开发票", "发票怎么申请"] },
  { id: "password", question: "How do I reset my password?", answer: "Use 'Forgot password' on the login page.", alts: ["forgot my password", "cannot log in, password lost"] },
  { id: "hours", question: "What are your opening hours?", answer: "Mon–Fri 9:00–18:00.", alts: ["when are you open", "business hours"] },
  { id: "warranty", question: "手机保修多久？", answer: "整机保修一年。", alts: ["保修期是多长时间", "iPhone 保修政策"] },
];
