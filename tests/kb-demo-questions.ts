/**
 * Questions a visitor might ask the demo shop (`src/demo/shop-faq.ts`), written for kefu independently of the
 * evaluation sets: used by tests/kb-demo-sanity.test.ts and bench/lib/calibration-probe.ts.
 */

/** Questions the demo knowledge base does not answer. */
export const offTopic = [
  "what is the capital of france",
  "What's the weather like tomorrow?",
  "Tell me a joke",
  "Is the store open on Christmas?",
  "Do you have a physical shop in Beijing?",
  "Do you sell iPhones?",
  "你们卖不卖手机",
  "给我讲个笑话",
  "你们招聘吗",
  "怎么修改登录密码",
  "你是机器人吗",
  "这件衣服有几种颜色",
  // Reported in issue 11 as answered verbatim (and wrongly) before calibration.
  "Is there a student discount?",
  "what's the weather",
  "你们老板是谁",
  "Do you offer gift wrapping for a birthday?",
  "Can I pick up my order in Shanghai?",
  "I want to apply for a job",
  "How do I reset my password?",
  "可以开发票吗上海有门店吗",
];

/** Everyday paraphrases of demo questions, with the entry that answers them. */
export const paraphrases: [string, string][] = [
  ["I'd like to send back the shoes I bought", "demo-returns-en"],
  ["how many days until my parcel arrives", "demo-delivery-time-en"],
  ["Can I pay using Mastercard?", "demo-payment-methods-en"],
  ["I typed the wrong address on my order", "demo-change-address-en"],
  ["my card got declined", "demo-payment-failed-en"],
  ["发票怎么开", "demo-invoice-zh"],
  ["几天能到货", "demo-delivery-time-zh"],
  ["能用支付宝付款吗", "demo-payment-methods-zh"],
  ["收货地址写错了", "demo-change-address-zh"],
  ["退款什么时候到", "demo-refund-time-zh"],
  ["尺码小了想换大一号", "demo-exchange-zh"],
  ["包邮吗？", "demo-shipping-fee-zh"],
];

/** More of each (2026-12-01, issue 11 measurements: src/kb/README.md "Thresholds"), not asserted by the test. */
export const moreOffTopic = [
  "do you have a loyalty program", "can I get a discount code", "how do I delete my account", "are your products vegan",
  "where is your company located", "do you sell gift cards", "how do I unsubscribe from emails", "what size should I buy",
  "is this item in stock", "can I order by phone", "你们有优惠券吗", "会员有什么权益", "怎么注销账号", "这个有现货吗",
  "你们公司在哪里", "可以货到付款吗", "明天天气怎么样", "你叫什么名字", "有没有学生优惠", "能便宜点吗",
];

export const moreParaphrases: [string, string][] = [
  ["how do I send an item back", "demo-returns-en"], ["can I return my order", "demo-returns-en"],
  ["when will my order be shipped", "demo-shipping-time-en"], ["how long does shipping take to arrive", "demo-delivery-time-en"],
  ["is delivery free", "demo-shipping-fee-en"], ["how much do you charge for shipping", "demo-shipping-fee-en"],
  ["do you ship to hong kong", "demo-international-en"], ["when do I get my money back", "demo-refund-time-en"],
  ["can I swap for a bigger size", "demo-exchange-en"], ["I need an invoice for my order", "demo-invoice-en"],
  ["the invoice name is wrong", "demo-invoice-change-en"], ["do you accept visa", "demo-payment-methods-en"],
  ["my payment didn't work", "demo-payment-failed-en"], ["where can I track my order", "demo-order-status-en"],
  ["I want to cancel my order", "demo-cancel-order-en"], ["can I change my shipping address", "demo-change-address-en"],
  ["my product broke, is it under warranty", "demo-warranty-en"], ["how can I talk to a person", "demo-human-en"],
  ["我想退货", "demo-returns-zh"], ["什么时候能发货", "demo-shipping-time-zh"], ["快递多久能到", "demo-delivery-time-zh"],
  ["运费多少", "demo-shipping-fee-zh"], ["能寄到美国吗", "demo-international-zh"], ["退款多久能到", "demo-refund-time-zh"],
  ["我想换货", "demo-exchange-zh"], ["我要开发票", "demo-invoice-zh"], ["发票抬头开错了", "demo-invoice-change-zh"],
  ["可以用微信付款吗", "demo-payment-methods-zh"], ["支付失败了怎么办", "demo-payment-failed-zh"],
  ["我的快递到哪里了", "demo-order-status-zh"], ["我想取消订单", "demo-cancel-order-zh"],
  ["地址写错了能改吗", "demo-change-address-zh"], ["坏了能保修吗", "demo-warranty-zh"], ["人工客服什么时候上班", "demo-human-zh"],
];
