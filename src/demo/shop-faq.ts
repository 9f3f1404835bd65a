/**
 * Built-in demo knowledge for an online shop, loaded on first start when the
 * knowledge base is empty so the quick start shows a working bot. Each topic has
 * a Chinese and an English entry; ids are stable so a later import can update them.
 */
export interface DemoEntry {
  id: string;
  question: string;
  alts: string[];
  answer: string;
  tags: string[];
}

export const demoShopFaq: DemoEntry[] = [
  { id: "demo-shipping-time-zh", tags: ["shipping"], question: "多久可以发货？", alts: ["什么时候发货", "下单后几天发货", "发货要多长时间"], answer: "工作日下午4点前付款的订单当天发货，其余订单在下一个工作日发货。" },
  { id: "demo-shipping-time-en", tags: ["shipping"], question: "When will my order ship?", alts: ["how long until you ship my order", "shipping time", "when do you dispatch orders"], answer: "Orders paid before 4 pm on a working day ship the same day; all others ship the next working day." },
  { id: "demo-delivery-time-zh", tags: ["shipping"], question: "快递几天能到？", alts: ["多久能收到货", "配送需要几天", "到货时间"], answer: "大陆地区一般2到4天送达，偏远地区5到7天。发货后可在订单详情中查看物流。" },
  { id: "demo-delivery-time-en", tags: ["shipping"], question: "How long does delivery take?", alts: ["when will my package arrive", "delivery time", "how many days for delivery"], answer: "Delivery usually takes 2–4 days, 5–7 days to remote areas. Tracking appears in your order details once the parcel has shipped." },
  { id: "demo-shipping-fee-zh", tags: ["shipping"], question: "运费怎么算？", alts: ["包邮吗", "邮费多少", "满多少包邮"], answer: "订单满99元包邮，不满99元收取运费8元。" },
  { id: "demo-shipping-fee-en", tags: ["shipping"], question: "How much is shipping?", alts: ["is shipping free", "shipping cost", "do you offer free shipping"], answer: "Shipping is free on orders of 99 yuan or more; smaller orders pay a flat 8 yuan." },
  { id: "demo-international-zh", tags: ["shipping"], question: "可以寄到国外吗？", alts: ["支持海外配送吗", "国际快递", "能发到香港吗"], answer: "目前支持寄往港澳台、新加坡和马来西亚，运费在结算页显示。" },
  { id: "demo-international-en", tags: ["shipping"], question: "Do you ship internationally?", alts: ["can you ship abroad", "international shipping", "do you deliver overseas"], answer: "We currently ship to Hong Kong, Macau, Taiwan, Singapore and Malaysia; the fee is shown at checkout." },
  { id: "demo-returns-zh", tags: ["returns"], question: "怎么退货？", alts: ["我要退货", "退货流程", "如何申请退货", "七天无理由退货"], answer: "签收后7天内可无理由退货：在“我的订单”中点击“申请售后”，选择退货并填写原因，审核通过后按页面地址寄回即可。" },
  { id: "demo-returns-en", tags: ["returns"], question: "How do I return an item?", alts: ["return policy", "I want to return my order", "can I send it back"], answer: "You can return any item within 7 days of delivery: open My Orders, choose Request after-sales service, pick Return, and ship the item to the address shown once approved." },
  { id: "demo-refund-time-zh", tags: ["returns", "payment"], question: "退款多久到账？", alts: ["什么时候退款", "退款进度", "钱什么时候退回来"], answer: "仓库收到退货并验收后1个工作日内退款，原路返回，到账时间以支付渠道为准（一般1到3天）。" },
  { id: "demo-refund-time-en", tags: ["returns", "payment"], question: "When will I get my refund?", alts: ["refund status", "how long does a refund take", "where is my money"], answer: "We refund within 1 working day after the warehouse receives and checks the return. The money goes back to the original payment method, usually within 1–3 days." },
  { id: "demo-exchange-zh", tags: ["returns"], question: "可以换货吗？", alts: ["尺码不合适能换吗", "换货流程", "我想换个颜色"], answer: "签收后15天内可换货（商品未使用、吊牌完好）。在订单中申请售后并选择“换货”即可，换货运费由我们承担。" },
  { id: "demo-exchange-en", tags: ["returns"], question: "Can I exchange an item?", alts: ["wrong size exchange", "exchange for a different color", "how to exchange"], answer: "Unused items with tags can be exchanged within 15 days of delivery: request after-sales service in the order and choose Exchange. We pay the shipping for exchanges." },
  { id: "demo-invoice-zh", tags: ["invoice"], question: "怎么开发票？", alts: ["开发票", "我要发票", "能开增值税专用发票吗", "电子发票"], answer: "在订单详情页点击“申请开票”，填写抬头和税号即可，电子发票会在1个工作日内发到您的邮箱。需要增值税专用发票请联系人工客服。" },
  { id: "demo-invoice-en", tags: ["invoice"], question: "How do I get an invoice?", alts: ["I need an invoice", "can you send me a receipt", "VAT invoice"], answer: "Open the order details and click Request invoice, then enter the billing name and tax number. The electronic invoice reaches your e-mail within 1 working day." },
  { id: "demo-invoice-change-zh", tags: ["invoice"], question: "发票抬头写错了怎么办？", alts: ["发票信息填错了", "重开发票", "修改发票抬头"], answer: "发票开出后30天内可申请重开：在订单详情中点击“发票”→“申请换开”，填写正确信息即可。" },
  { id: "demo-invoice-change-en", tags: ["invoice"], question: "The invoice has the wrong name, what can I do?", alts: ["reissue invoice", "change invoice details", "wrong company name on invoice"], answer: "Within 30 days of issue you can ask for a corrected invoice: in the order details open Invoice → Request reissue and enter the right details." },
  { id: "demo-payment-methods-zh", tags: ["payment"], question: "支持哪些付款方式？", alts: ["可以用微信支付吗", "支付宝能用吗", "能刷信用卡吗", "付款方式"], answer: "支持微信支付、支付宝、银联卡和主流信用卡（Visa、Mastercard）。" },
  { id: "demo-payment-methods-en", tags: ["payment"], question: "Which payment methods do you accept?", alts: ["can I pay with credit card", "do you take PayPal", "payment options"], answer: "We accept WeChat Pay, Alipay, UnionPay and major credit cards (Visa, Mastercard). PayPal is not supported." },
  { id: "demo-payment-failed-zh", tags: ["payment"], question: "付款失败怎么办？", alts: ["支付不成功", "付不了款", "支付一直失败"], answer: "请确认余额或额度充足后重试，或更换支付方式。若已扣款但订单显示未付款，款项会在24小时内自动退回。" },
  { id: "demo-payment-failed-en", tags: ["payment"], question: "My payment failed, what should I do?", alts: ["payment not going through", "card declined", "charged but order unpaid"], answer: "Check your balance or card limit and try again, or use another payment method. If you were charged but the order shows unpaid, the money is returned automatically within 24 hours." },
  { id: "demo-order-status-zh", tags: ["order"], question: "怎么查订单状态？", alts: ["我的订单到哪了", "查物流", "订单查询", "快递到哪了"], answer: "登录后在“我的订单”中可以看到订单状态和物流轨迹；也可以把订单号发给我，我帮您转人工查询。" },
  { id: "demo-order-status-en", tags: ["order"], question: "How can I check my order status?", alts: ["where is my order", "track my package", "order tracking"], answer: "Sign in and open My Orders to see the status and tracking of every order, or send us your order number and an agent will check it for you." },
  { id: "demo-cancel-order-zh", tags: ["order"], question: "怎么取消订单？", alts: ["我不想要了", "取消订单", "订单能取消吗"], answer: "未发货的订单可以在“我的订单”中直接取消，款项原路退回；已发货的订单请在签收后申请退货。" },
  { id: "demo-cancel-order-en", tags: ["order"], question: "How do I cancel my order?", alts: ["cancel order", "I changed my mind", "can I still cancel"], answer: "Orders that have not shipped can be cancelled in My Orders and are refunded to the original payment method. Once shipped, please request a return after delivery." },
  { id: "demo-change-address-zh", tags: ["order"], question: "下单后能改地址吗？", alts: ["修改收货地址", "地址填错了", "换个收货地址"], answer: "发货前可以在订单详情中修改收货地址；已发货的订单请联系人工客服协助联系快递改派。" },
  { id: "demo-change-address-en", tags: ["order"], question: "Can I change the delivery address?", alts: ["wrong address", "update shipping address", "change address after ordering"], answer: "Before shipping you can change the address in the order details. After shipping, ask an agent and we will contact the carrier for you." },
  { id: "demo-warranty-zh", tags: ["after-sales"], question: "商品有保修吗？", alts: ["保修多久", "坏了怎么办", "质量问题"], answer: "电子产品享受一年质保，质量问题30天内包换。请在订单中申请售后并上传照片。" },
  { id: "demo-warranty-en", tags: ["after-sales"], question: "Is there a warranty?", alts: ["it is broken", "warranty period", "defective product"], answer: "Electronics have a one-year warranty and defective items are replaced within 30 days. Request after-sales service in the order and attach a photo." },
  { id: "demo-human-zh", tags: ["contact"], question: "客服工作时间是什么时候？", alts: ["人工客服几点上班", "客服电话", "什么时候有人工"], answer: "人工客服工作时间为每天9:00–21:00。其他时间您可以留言，我们上班后第一时间回复。" },
  { id: "demo-human-en", tags: ["contact"], question: "What are your customer service hours?", alts: ["when are agents available", "support hours", "contact phone number"], answer: "Our agents are available every day from 9:00 to 21:00 (China time). Outside these hours leave a message and we will reply as soon as we are back." },
];
