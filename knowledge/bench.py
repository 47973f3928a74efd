"""``frontdesk bench match --json``: how many mails per second get their suggestions.

Builds a fresh SQLite database with generated templates (mixed Chinese, English and
Spanish, several keywords each), then runs generated mails of realistic length through
``TemplateLibrary.suggest`` — the path ingest uses — and, separately, through the
compiled matcher alone (``suggest`` minus the session and revision check).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from core.db import Database
from core.migrate import upgrade
from knowledge.records import ReplyTemplate
from knowledge.revision import bump_revision
from knowledge.suggestions import TemplateLibrary

EN = ("refund order delivery parcel package shipping password account login invoice payment "
      "charge card subscription cancel upgrade damaged broken missing late tracking address "
      "return exchange warranty repair complaint manager price discount coupon receipt email "
      "phone update error crash reset locked verify code battery screen size color").split()
ES = ("reembolso pedido entrega paquete envío contraseña cuenta factura pago cargo tarjeta "
      "suscripción cancelar dañado roto retraso seguimiento dirección devolución cambio "
      "garantía reparación queja precio descuento cupón recibo correo teléfono error "
      "bloqueada verificar código batería pantalla talla").split()
ZH = ("退款 订单 快递 包裹 发货 密码 账户 登录 发票 付款 扣费 银行卡 订阅 取消 升级 损坏 "
      "丢失 延迟 物流 地址 退货 换货 保修 维修 投诉 价格 折扣 优惠券 收据 邮箱 电话 错误 "
      "重置 锁定 验证码 电池 屏幕 尺寸 颜色 會員 積分 賬單 退貨 發票").split()
# Support vocabularies are wide: hundreds of two-character words, which give the
# automaton's root thousands of distinct first characters to tell apart.
_COMMON = ("产品服务问题时间信息系统公司客户商品质量售后安装配送门店会员积分活动优惠退换申请处理结果联系方式"
           "手机号码身份证明材料审核状态更新通知短信邮件网站页面应用程序版本功能设置权限支付宝微信余额提现充值"
           "账单明细记录查询修改删除添加绑定解绑认证失败成功异常超时等待取消确认收货评价投诉建议反馈咨询预约上门"
           "维修保养检测报告合同协议条款规则说明指南帮助中心热线人工智能机器回复答复解决方案办法流程步骤标准要求"
           "条件范围期限有效过期续费套餐流量话费宽带网络信号故障恢复升级降级迁移备份数据安全隐私保护泄露风险警告"
           "冻结解冻")
_WORDS = random.Random(2026)
ZH = ZH + sorted({_WORDS.choice(_COMMON) + _WORDS.choice(_COMMON) for _ in range(600)})
FILLER = {
    "en": "the a to my and is it for of on please hello thanks I you we have not was with this "
          "that but can when will be yesterday today week help soon still".split(),
    "es": "el la de que y en un una por favor hola gracias mi no es con para pero cuando ayer "
          "hoy semana ayuda pronto todavía está".split(),
    "zh": [*"的了是我在有不这个们你他她也就都和要会说到上下好吗呢请谢您已经还没", "，", "。", "？", "！"],
}
VOCAB = {"en": EN, "es": ES, "zh": ZH}


def _phrase(rng: random.Random, language: str) -> str:
    words = VOCAB[language]
    if language == "zh":
        return rng.choice(words) + (rng.choice(words) if rng.random() < 0.75 else "")
    return " ".join(rng.sample(words, 2 if rng.random() < 0.75 else 1))


def generate_templates(n: int, rng: random.Random) -> list[ReplyTemplate]:
    templates = []
    for i in range(n):
        language = ("en", "es", "zh")[i % 3]
        phrases = {_phrase(rng, language) for _ in range(rng.randint(3, 8))}
        keywords = [{"phrase": p, "weight": float(rng.randint(1, 5))} for p in sorted(phrases)]
        exclusions = [_phrase(rng, language)] if rng.random() < 0.2 else []
        templates.append(ReplyTemplate(
            name=f"template {i}", language=language, subject="Re: {{ ticket.tag }}",
            body="Dear {{ customer.name }}", is_html=False, keywords=keywords,
            exclusions=exclusions, active=True, usage_count=0,
        ))
    return templates


def generate_mail(rng: random.Random) -> tuple[str, str]:
    language = rng.choice(("en", "es", "zh"))
    vocab, filler = VOCAB[language], FILLER[language]
    length = rng.randint(150, 1200) if language == "zh" else rng.randint(60, 300)
    tokens = [rng.choice(vocab) if rng.random() < 0.08 else rng.choice(filler) for _ in range(length)]
    sep = "" if language == "zh" else " "
    body = sep.join(tokens)
    if language == "en" and rng.random() < 0.3:
        body = body.replace("refund", "Refunds").replace("order", "ORDERS")
    subject = sep.join(rng.choice(vocab) for _ in range(rng.randint(1, 4)))
    if language == "zh" and rng.random() < 0.3:
        subject = "［訂單］" + subject
    return subject, body


async def run(templates: int, emails: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    mails = [generate_mail(rng) for _ in range(emails)]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        try:
            async with db.transaction() as session:
                session.add_all(generate_templates(templates, rng))
                await session.flush()
                await bump_revision(session)
            library = TemplateLibrary()
            async with db.session() as session:
                started = time.perf_counter()
                matcher = await library.matcher(session)
                build_s = time.perf_counter() - started
                suggested = 0
                started, cpu_started = time.perf_counter(), time.process_time()
                for subject, body in mails:
                    suggested += bool(await library.suggest(session, subject, body))
                suggest_s = time.perf_counter() - started
                suggest_cpu_s = time.process_time() - cpu_started
            started = time.perf_counter()
            for subject, body in mails:
                matcher.match(subject, body)
            matcher_s = time.perf_counter() - started
        finally:
            await db.close()
    return {
        "templates": templates,
        "keyword_forms": matcher.forms,
        "emails": emails,
        "mean_email_chars": round(statistics.fmean(len(s) + len(b) for s, b in mails)),
        "emails_with_suggestion": suggested,
        "matcher_build_ms": round(build_s * 1000, 1),
        "emails_per_s": round(emails / suggest_s),
        # the same run by CPU time: what one core does when other work shares the machine
        "cpu_emails_per_s": round(emails / suggest_cpu_s),
        "matcher_emails_per_s": round(emails / matcher_s),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="frontdesk bench match", description=__doc__)
    parser.add_argument("--templates", type=int, default=1000)
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print only the JSON result line")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.templates, args.emails, args.seed))
    if not args.json:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    print(json.dumps(result))
    return 0
