"""The words of the demo help center: categories, sections and articles in Markdown.

Articles use the words customers use in the demo's conversations (texts.TOPICS), so
the workspace suggests them on those conversations and the help center finds them.
`topics` names the conversation topics an article answers; `queries` are what
visitors type before reading it. The portal articles answer the launch scenario's
questions, and are the ones readers still write in about (story: PORTAL_TOPIC).
"""

from dataclasses import dataclass

# (slug, name, description, ((section slug, section name), ...))
CATEGORIES = (
    (
        "orders-and-delivery",
        "Orders and delivery",
        "Tracking a parcel, delivery times and changing an order.",
        (("tracking", "Tracking and delivery"), ("changing-an-order", "Changing an order")),
    ),
    (
        "returns-and-refunds",
        "Returns and refunds",
        "Sending something back, refunds, and items that arrived damaged or wrong.",
        (("returns", "Returns"), ("refunds", "Refunds"), ("problems", "Damaged or wrong items")),
    ),
    (
        "billing-and-payments",
        "Billing and payments",
        "Invoices, payment methods, double charges and discount codes.",
        (("invoices", "Invoices"), ("payments", "Payments"), ("discounts", "Discount codes")),
    ),
    (
        "your-account",
        "Your account",
        "Signing in, passwords, plans and your personal data.",
        (("signing-in", "Signing in"), ("plans", "Plans and subscriptions")),
    ),
    (
        "customer-portal",
        "The customer portal",
        "Finding your way around the self-service portal.",
        (("getting-around", "Getting around the portal"),),
    ),
    (
        "products-and-app",
        "Products and the app",
        "Sizes, care and using the mobile app.",
        (("products", "Products"), ("app", "The app")),
    ),
)


@dataclass(frozen=True)
class DemoArticle:
    key: str
    section: str  # "category slug/section slug"
    title: str
    body: str
    topics: tuple[str, ...] = ()
    queries: tuple[str, ...] = ()
    visibility: str = "public"
    status: str = "published"
    promoted: bool = False


ARTICLES = (
    DemoArticle(
        "track-order",
        "orders-and-delivery/tracking",
        "Where is my order? Tracking your parcel",
        """Every order gets a tracking number as soon as the parcel leaves our warehouse.
You find it in the shipping confirmation email and under **Orders** in the customer
portal.

## What the tracking status means

| Status | What it means |
|---|---|
| Label created | Not scanned by the carrier yet (up to 2 business days). |
| In transit | The parcel is on its way. |
| Out for delivery | It arrives today. |

## The tracking has not changed for days

If the tracking page has not changed for more than **3 business days**, or your order
has not arrived by the delivery date, [contact us](/contact/) with your order number
(it starts with `A-`). We open a claim with the carrier and, if the parcel is lost,
send a replacement or refund you.""",
        topics=("late_delivery",),
        queries=("where is my order", "tracking", "order not arrived", "late delivery"),
        promoted=True,
    ),
    DemoArticle(
        "delivery-times",
        "orders-and-delivery/tracking",
        "Delivery times and shipping costs",
        """Standard delivery takes **3 to 5 business days**; express delivery 1 to 2
business days. Orders placed before 2 pm on a weekday leave the warehouse the same
day.

* Standard delivery is free from $50.
* Express delivery costs $9.90.
* We ship with UPS, DHL, FedEx and USPS, depending on where you live.

Public holidays and peak seasons can add a day or two. Your shipping confirmation
always shows the carrier's current estimate.""",
        topics=("late_delivery",),
        queries=("delivery time", "shipping cost", "express delivery", "how long delivery"),
    ),
    DemoArticle(
        "parcel-lost",
        "orders-and-delivery/tracking",
        "The tracking says delivered but I have no parcel",
        """Sometimes a carrier marks a parcel delivered a few hours early, or leaves it
with a neighbour or at the front desk.

1. Wait until the end of the day.
2. Check with neighbours, your building's front desk and any safe place you told the
   carrier about.
3. Look for a card from the carrier in your letterbox.

Still nothing the next day? [Contact us](/contact/) with the order number: we open an
investigation with the carrier and send a replacement or a refund when it is lost.""",
        topics=("late_delivery",),
        queries=("parcel delivered not received", "lost parcel", "missing package"),
    ),
    DemoArticle(
        "change-address",
        "orders-and-delivery/changing-an-order",
        "Change the delivery address of an order",
        """You can change the delivery address **until the parcel leaves the warehouse**,
usually within a few hours of ordering.

* In the customer portal, open **Orders**, choose the order and select **Change
  address**.
* If the button is missing, the parcel has already been handed to the carrier. Most
  carriers let you redirect it from their tracking page.

Wrong address on an order that has shipped? [Write to us](/contact/) and we ask the
carrier to correct it.""",
        topics=("change_address",),
        queries=("change address", "wrong address", "delivery address"),
    ),
    DemoArticle(
        "cancel-order",
        "orders-and-delivery/changing-an-order",
        "Cancel an order",
        """An order can be cancelled until it is packed. Open **Orders** in the customer
portal and select **Cancel order**. The payment is released at once; depending on
your bank it shows on your statement within 3 to 5 business days.

If the order has shipped, you can still return it for free within 30 days: see
[How to return an item](/help/search/?q=return).""",
        topics=("change_address",),
        queries=("cancel order", "cancel my order"),
    ),
    DemoArticle(
        "start-return",
        "returns-and-refunds/returns",
        "How to return an item",
        """You can return anything within **30 days** of delivery, for free.

1. Open **Orders** in the customer portal and choose the order.
2. Select **Return items**, tick what you send back and tell us why.
3. Print the prepaid label (or show the QR code at the drop-off point).
4. Pack the item in its original packaging if you still have it.

You get an email when the warehouse receives your return. The refund follows within
2 business days.""",
        topics=("refund", "wrong_item"),
        queries=("return", "how to return", "return label", "send back"),
        promoted=True,
    ),
    DemoArticle(
        "return-policy",
        "returns-and-refunds/returns",
        "Our return policy",
        """* 30 days from delivery, free of charge.
* Items must be unused and complete; shoes and clothing with their tags.
* Personalised items and opened hygiene products cannot be returned.
* Faulty items can be returned for up to 2 years: see [Damaged or faulty
  items](/help/search/?q=faulty).""",
        topics=("refund",),
        queries=("return policy", "30 days", "can i return"),
    ),
    DemoArticle(
        "refund-times",
        "returns-and-refunds/refunds",
        "When will I get my refund?",
        """We issue the refund within **2 business days** of receiving your return, to the
card or account you paid with. Your bank then needs **3 to 5 business days** to show
it on your statement.

* The refund includes the original shipping cost when you return the whole order.
* Every refund has a reference starting with `RF-`; your bank can trace it with that
  number.

No refund 7 business days after the return was confirmed? [Contact us](/contact/)
with the order number.""",
        topics=("refund",),
        queries=("refund", "where is my refund", "refund time", "money back"),
        promoted=True,
    ),
    DemoArticle(
        "refund-shipping",
        "returns-and-refunds/refunds",
        "Is the shipping cost refunded?",
        """Yes, when you return the whole order within 30 days, or when the item was
damaged, faulty or not what you ordered. When you keep part of an order, the shipping
cost stays.""",
        topics=("refund",),
        queries=("refund shipping cost", "shipping refund"),
    ),
    DemoArticle(
        "damaged-item",
        "returns-and-refunds/problems",
        "My item arrived damaged or broken",
        """We are sorry! Please do not throw anything away yet.

1. Take a photo of the damaged item and of the box.
2. [Send us the photos](/contact/) with your order number.
3. Choose a **replacement** or a **refund**. We send a free return label; for small
   items you can usually keep the damaged one.

Damaged in transit is never your cost: we settle it with the carrier.""",
        topics=("damaged_item",),
        queries=("damaged", "broken", "arrived damaged", "cracked"),
    ),
    DemoArticle(
        "wrong-item",
        "returns-and-refunds/problems",
        "I received the wrong item",
        """If the parcel holds something you did not order, or the wrong size or colour:

1. [Tell us](/contact/) what you received, with a photo of the label on the item.
2. We send the right item at once, by express delivery.
3. Return the wrong one with the free label we email you, within 30 days.""",
        topics=("wrong_item",),
        queries=("wrong item", "not what i ordered", "wrong size"),
    ),
    DemoArticle(
        "faulty-warranty",
        "returns-and-refunds/problems",
        "Damaged or faulty items after the return period",
        """Every product has a **2-year guarantee** against manufacturing faults. If
something stops working, send us the order number, a short description and a photo
or video of the fault. We repair, replace or refund it.""",
        topics=("damaged_item", "product_question"),
        queries=("guarantee", "faulty", "stopped working"),
    ),
    DemoArticle(
        "download-invoice",
        "billing-and-payments/invoices",
        "Download an invoice",
        """Every order has an invoice as a PDF.

* It is attached to the order confirmation email.
* In the customer portal it is under **Account → Billing history** (see [Your billing
  history in the portal](/help/search/?q=billing+history)).

Need the invoice made out to your company, with a VAT number? Add the company details
in **Account → Billing details** before ordering, or ask us to reissue it.""",
        topics=("invoice",),
        queries=("invoice", "download invoice", "invoice pdf", "receipt"),
        promoted=True,
    ),
    DemoArticle(
        "invoice-wrong-details",
        "billing-and-payments/invoices",
        "Correct the name or address on an invoice",
        """Invoices cannot be edited once issued, but we can cancel one and issue a
corrected invoice. [Send us](/contact/) the invoice number (it starts with `INV-`)
and the correct details. The corrected invoice arrives by email within one business
day.""",
        topics=("invoice",),
        queries=("invoice address", "change invoice", "invoice company name"),
    ),
    DemoArticle(
        "charged-twice",
        "billing-and-payments/payments",
        "I was charged twice",
        """A second charge is usually a **pending authorisation**, not a payment: when a
payment is retried, your bank may show both for a few days. The extra one disappears
on its own within 3 to 5 business days.

If both charges are still there after 5 business days, [contact us](/contact/) with
the order number and the dates of the two charges: we refund the duplicate the same
day.""",
        topics=("double_charge",),
        queries=("charged twice", "double charge", "two payments", "duplicate payment"),
    ),
    DemoArticle(
        "payment-methods",
        "billing-and-payments/payments",
        "Payment methods we accept",
        """We accept Visa, Mastercard, American Express, PayPal, Apple Pay and Google Pay.
Business customers on the Team plan can also pay by invoice within 30 days.""",
        topics=("double_charge", "invoice"),
        queries=("payment methods", "paypal", "pay by invoice"),
    ),
    DemoArticle(
        "update-card",
        "billing-and-payments/payments",
        "Update the card on your account",
        """Open **Account → Billing details** in the customer portal and select **Change
card**. The new card is used for your next order and your next plan payment.""",
        topics=("double_charge", "portal_navigation"),
        queries=("update card", "change card", "payment card"),
    ),
    DemoArticle(
        "discount-code",
        "billing-and-payments/discounts",
        "My discount code does not work",
        """Check these first:

* **Expired?** Codes are valid until the date in the email that sent them.
* **Minimum order?** Many codes need an order of $50 or more.
* **One per order.** Codes cannot be combined, and do not apply to items already on
  sale.
* **Typed right?** Codes are not case sensitive, but a space before or after stops
  them working.

Still refused? [Send us the code](/contact/): if it should work, we apply the discount
to your order by hand.""",
        topics=("discount_code",),
        queries=("discount code", "promo code", "code expired", "voucher"),
    ),
    DemoArticle(
        "password-reset",
        "your-account/signing-in",
        "Reset your password",
        """1. Select **Forgot password?** on the sign-in page.
2. Enter the email address of your account.
3. Open the reset email and follow the link within **one hour**.

**The reset email does not arrive?** Check your spam folder and wait a few minutes;
then ask for a new one. Only the newest link works.""",
        topics=("password_reset",),
        queries=("password reset", "forgot password", "reset email", "cant log in"),
        promoted=True,
    ),
    DemoArticle(
        "account-locked",
        "your-account/signing-in",
        "My account is locked",
        """After 5 wrong passwords in a row we lock the account for 30 minutes, to keep
it safe. Wait, then [reset your password](/help/search/?q=password+reset) rather than
guessing again. If it stays locked, [contact us](/contact/) from the email address of
the account.""",
        topics=("password_reset",),
        queries=("account locked", "locked out", "too many attempts"),
    ),
    DemoArticle(
        "two-factor",
        "your-account/signing-in",
        "Turn on two-factor authentication",
        """Open **Account → Security** and select **Two-factor authentication**. Scan the
QR code with an authenticator app and type the 6-digit code it shows. Keep the
recovery codes somewhere safe: they let you in if you lose your phone.""",
        topics=("password_reset",),
        queries=("two factor", "2fa", "authenticator code"),
    ),
    DemoArticle(
        "cancel-subscription",
        "your-account/plans",
        "Cancel your subscription",
        """You can cancel the Basic, Plus, Pro or Team plan at any time:

1. Open **Account → Plan** in the customer portal.
2. Select **Cancel plan** and confirm.

The plan runs until the end of the period you paid for, and you are not charged
again. Cancelled by mistake? Select **Resume plan** before the period ends.""",
        topics=("cancel_subscription",),
        queries=("cancel subscription", "cancel plan", "stop subscription"),
    ),
    DemoArticle(
        "change-plan",
        "your-account/plans",
        "Change your plan",
        """Upgrade or downgrade under **Account → Plan**. An upgrade starts at once and
you pay the difference for the rest of the period; a downgrade starts with the next
period.""",
        topics=("cancel_subscription",),
        queries=("change plan", "upgrade", "downgrade"),
    ),
    DemoArticle(
        "your-data",
        "your-account/plans",
        "See, export or delete your personal data",
        """The customer portal's **Privacy** page shows what we keep about you, lets you
download it and lets you ask us to delete it. We answer every request within 30
days.""",
        queries=("delete my data", "privacy", "gdpr"),
    ),
    DemoArticle(
        "portal-tour",
        "customer-portal/getting-around",
        "A tour of the new customer portal",
        """The customer portal shows your orders, returns, invoices and requests in one
place. Sign in with your email address: we send you a one-time link, so there is no
password to remember.

* **Orders**: behind the menu icon at the top left.
* **Returns**: inside each order.
* **Billing history**: under **Account**.
* **My requests**: every conversation you had with us, on any channel.""",
        topics=("portal_navigation",),
        queries=("portal", "new portal", "customer portal", "portal menu"),
        promoted=True,
    ),
    DemoArticle(
        "portal-orders",
        "customer-portal/getting-around",
        "Where are my orders in the new portal?",
        """Orders moved in the new portal: select the **menu icon** (three lines) at the
top left, then **Orders**. On a phone, the menu is at the bottom of the screen.

If the menu only shows your profile, you are signed in with a different email address
than the one you ordered with.""",
        topics=("portal_navigation",),
        queries=("portal orders", "orders missing portal", "where are my orders"),
    ),
    DemoArticle(
        "portal-billing-history",
        "customer-portal/getting-around",
        "Your billing history in the portal",
        """Open **Account**, then **Billing history**. Each order lists its PDF; select
**Download** to save it.

If the download button does nothing, allow pop-ups for this site, or open the order
confirmation email, which has the same PDF attached.""",
        topics=("portal_navigation", "invoice"),
        queries=("billing history", "portal download", "portal receipts"),
    ),
    DemoArticle(
        "portal-returns",
        "customer-portal/getting-around",
        "Start a return in the portal",
        """Returns are started from the order, not from a returns page: open **Orders**,
choose the order and select **Return items**. The old *Returns* link in the footer
now leads to the portal home; we are removing it.""",
        topics=("portal_navigation", "refund"),
        queries=("portal return", "return in portal", "returns page"),
    ),
    DemoArticle(
        "portal-signin",
        "customer-portal/getting-around",
        "Signing in to the portal keeps asking again",
        """For your safety, **Billing** asks you to confirm it is you once per visit: we
email you a new one-time link. Open it on the same device and browser. The link works
once and expires after 15 minutes.""",
        topics=("portal_navigation", "password_reset"),
        queries=("portal login", "portal sign in", "sign in link"),
    ),
    DemoArticle(
        "sizes",
        "products-and-app/products",
        "Which size should I choose?",
        """Every product page has a size guide with measurements in centimetres and
inches. Between two sizes? For shoes take the larger one; for clothing, the product
page says whether it runs small or large. Exchanges for another size are free.""",
        topics=("product_question", "wrong_item"),
        queries=("size guide", "sizes", "which size", "other sizes"),
    ),
    DemoArticle(
        "product-care",
        "products-and-app/products",
        "Caring for your products",
        """* **Rain jacket**: wash at 30 °C, no fabric softener; tumble dry low to renew
  the water repellency.
* **Ceramic cookware set**: hand wash, no metal utensils.
* **Espresso machine and coffee grinder**: descale every 2 months; see the manual.
* **Yoga mat**: wipe with mild soap and water.""",
        topics=("product_question",),
        queries=("care", "wash", "descale", "cleaning"),
    ),
    DemoArticle(
        "restock",
        "products-and-app/products",
        "When is a product back in stock?",
        """Select **Notify me** on the product page: we email you the moment it is back.
Most products are restocked within 2 to 4 weeks.""",
        topics=("product_question",),
        queries=("back in stock", "out of stock", "restock"),
    ),
    DemoArticle(
        "app-crash",
        "products-and-app/app",
        "The app crashes or freezes at checkout",
        """1. Update the app to the newest version.
2. Close it completely and open it again.
3. Still crashing? Sign out and in again, or complete the order on the website: your
   basket is kept.

[Tell us](/contact/) your phone model and app version (under **Settings → About**) so
we can fix it.""",
        topics=("app_bug",),
        queries=("app crash", "app freezes", "checkout error", "error when paying"),
    ),
    DemoArticle(
        "app-notifications",
        "products-and-app/app",
        "Delivery notifications in the app",
        """Turn on notifications under **Settings → Notifications** to hear when an order
ships, is out for delivery and arrives.""",
        topics=("app_bug", "late_delivery"),
        queries=("notifications", "push notification"),
    ),
    # For agents only: published, internal.
    DemoArticle(
        "agents-refund-limit",
        "returns-and-refunds/refunds",
        "Refunds above the approval limit (agents)",
        """Agents approve refunds up to **$150** themselves. Above that, add a note with
the reason and assign the conversation to a Billing lead; they answer within the
business day. Returns in perfect condition may be approved above the limit.""",
        topics=("refund", "double_charge"),
        visibility="internal",
    ),
    DemoArticle(
        "agents-carrier-claims",
        "orders-and-delivery/tracking",
        "Opening a carrier claim (agents)",
        """Open the claim in the carrier's business portal with the tracking number and
attach the claim reference to the order. Lost parcels: send the replacement at once,
do not wait for the claim. Flag a third late delivery in one postcode in a week to
logistics.""",
        topics=("late_delivery", "damaged_item"),
        visibility="internal",
    ),
    # Drafts: what the writers are working on (two of the content gaps).
    DemoArticle(
        "gift-cards",
        "billing-and-payments/payments",
        "Gift cards",
        """*Draft.* How to buy, redeem and check the balance of a gift card.""",
        status="draft",
    ),
    DemoArticle(
        "warranty-claims",
        "returns-and-refunds/problems",
        "Making a warranty claim",
        """*Draft.* Who to contact, what to send, how long a repair takes.""",
        status="draft",
    ),
)

# What visitors search for and the help center does not answer (results: none).
GAP_QUERIES = (
    "invoice portal",
    "gift card balance",
    "warranty claim",
    "student discount",
    "pickup point",
    "company vat number",
    "export order history",
    "change currency",
)
GAP_WEIGHTS = (10, 6, 5, 4, 3, 3, 2, 1)

# A few articles in other languages, used when HEEDFUL_HELP_LANGUAGES lists one.
TRANSLATIONS = {
    "de": {
        "track-order": (
            "Wo ist meine Bestellung? Sendungsverfolgung",
            "Jede Bestellung erhält eine Sendungsnummer, sobald das Paket unser Lager "
            "verlässt. Sie steht in der Versandbestätigung und unter **Bestellungen** im "
            "Kundenportal.\n\nHat sich die Sendungsverfolgung seit mehr als **3 Werktagen** "
            "nicht geändert, [schreiben Sie uns](/contact/) mit Ihrer Bestellnummer.",
        ),
        "refund-times": (
            "Wann bekomme ich mein Geld zurück?",
            "Wir erstatten innerhalb von **2 Werktagen** nach Eingang der Rücksendung. Ihre "
            "Bank braucht danach **3 bis 5 Werktage**.",
        ),
        "password-reset": (
            "Passwort zurücksetzen",
            "Wählen Sie **Passwort vergessen?** und folgen Sie dem Link in der E-Mail "
            "innerhalb **einer Stunde**.",
        ),
    },
    "es": {
        "track-order": (
            "¿Dónde está mi pedido? Seguimiento del envío",
            "Cada pedido recibe un número de seguimiento en cuanto sale de nuestro almacén. "
            "Lo encontrarás en el correo de confirmación de envío y en **Pedidos** del "
            "portal.\n\nSi el seguimiento no cambia en más de **3 días laborables**, "
            "[escríbenos](/contact/) con tu número de pedido.",
        ),
        "refund-times": (
            "¿Cuándo recibiré mi reembolso?",
            "Emitimos el reembolso en **2 días laborables** tras recibir la devolución; tu "
            "banco tarda después **de 3 a 5 días laborables**.",
        ),
        "password-reset": (
            "Restablecer la contraseña",
            "Elige **¿Has olvidado tu contraseña?** y sigue el enlace del correo en menos "
            "de **una hora**.",
        ),
    },
    "fr": {
        "track-order": (
            "Où est ma commande ? Suivre votre colis",
            "Chaque commande reçoit un numéro de suivi dès que le colis quitte notre "
            "entrepôt. Il figure dans l'e-mail d'expédition et sous **Commandes** dans le "
            "portail client.",
        ),
        "refund-times": (
            "Quand serai-je remboursé ?",
            "Nous remboursons sous **2 jours ouvrés** après réception du retour ; votre "
            "banque met ensuite **3 à 5 jours ouvrés**.",
        ),
    },
}
