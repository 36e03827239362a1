"""The words of the demo: people, products and templated support conversations.

Templates use `str.format` fields filled per conversation: {first} (the
customer's first name), {agent} (the agent's first name), {order}, {product},
{amount}, {invoice}, {carrier}, {days}, {weekday}, {code}, {plan}.
"""

from dataclasses import dataclass

FIRST_NAMES = (
    "Ada", "Alex", "Amara", "Ana", "Andre", "Anika", "Ben", "Bianca", "Carla", "Carlos", "Chen",
    "Chloe", "Daniel", "Dara", "David", "Elena", "Emma", "Ethan", "Farah", "Felix", "Grace",
    "Hana", "Hugo", "Ines", "Isaac", "Ivy", "Jamal", "James", "Jana", "Jonas", "Julia", "Kai",
    "Karim", "Kate", "Leo", "Lena", "Liam", "Lucia", "Maya", "Mei", "Mia", "Nadia", "Noah",
    "Nora", "Omar", "Paula", "Pedro", "Priya", "Rafael", "Rosa", "Ruth", "Sam", "Sara", "Sofia",
    "Tariq", "Theo", "Uma", "Vera", "Wei", "Yara", "Yusuf", "Zoe"
)  # fmt: skip

LAST_NAMES = (
    "Adams", "Ahmed", "Alvarez", "Baker", "Bauer", "Becker", "Brown", "Campbell", "Chen",
    "Costa", "Cruz", "Davies", "Dubois", "Evans", "Fischer", "Garcia", "Green", "Gupta", "Hall",
    "Hansen", "Hughes", "Ito", "Jensen", "Johnson", "Kaur", "Khan", "Kim", "Kowalski", "Larsen",
    "Lee", "Lopez", "Martin", "Meyer", "Moreau", "Murphy", "Nguyen", "Novak", "Okafor", "Olsen",
    "Park", "Patel", "Perez", "Quinn", "Reyes", "Rossi", "Santos", "Schmidt", "Silva", "Singh",
    "Smith", "Suzuki", "Tanaka", "Taylor", "Torres", "Walker", "Wang", "Weber", "Wilson",
    "Young", "Zhang"
)  # fmt: skip

ORGANIZATION_WORDS = (
    "Acme", "Alder", "Apex", "Arbor", "Beacon", "Birch", "Bright", "Cedar", "Copper",
    "Crescent", "Delta", "Ember", "Evergreen", "Falcon", "Harbor", "Horizon", "Juniper",
    "Keystone", "Lumen", "Maple", "Meridian", "Nimbus", "Northwind", "Oak", "Orbit", "Pioneer",
    "Quarry", "Redwood", "Summit", "Tidal", "Vertex", "Willow"
)  # fmt: skip
ORGANIZATION_SUFFIXES = ("Studio", "Labs", "Trading", "Partners", "Outfitters", "Group", "Co")

EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")
SOCIAL_NETWORKS = ("instagram", "x", "facebook", "mastodon")
TIME_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Madrid",
    "Asia/Singapore",
    "Australia/Sydney",
)

PRODUCTS = (
    "trail running shoes",
    "espresso machine",
    "noise-cancelling headphones",
    "standing desk",
    "rain jacket",
    "smart thermostat",
    "ceramic cookware set",
    "yoga mat",
    "backpack",
    "wireless keyboard",
    "coffee grinder",
    "desk lamp",
    "water bottle",
    "winter boots",
    "bike helmet",
)
CARRIERS = ("UPS", "DHL", "FedEx", "USPS", "the courier")
PLANS = ("Basic", "Plus", "Pro", "Team")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")

CUSTOMER_NOTES = (
    "Prefers email over phone calls.",
    "Long-time customer; was very understanding about the March delay.",
    "Hard of hearing: please answer in writing rather than calling.",
    "Runs a small shop and orders in bulk every quarter.",
    "Asked us not to send marketing emails.",
    "Works night shifts: reachable after 6 pm.",
)

AGENT_NAMES = (
    ("Maya Patel", "lead"),
    ("Jonas Weber", "agent"),
    ("Lucia Torres", "agent"),
    ("Sam Okafor", "agent"),
    ("Hana Suzuki", "agent"),
    ("Theo Martin", "lead"),
    ("Priya Singh", "agent"),
    ("Omar Khan", "agent"),
)


@dataclass(frozen=True)
class Topic:
    key: str
    weight: int
    tags: tuple[str, ...]
    subjects: tuple[str, ...]
    openings: tuple[str, ...]
    followups: tuple[str, ...]
    replies: tuple[str, ...]
    next_replies: tuple[str, ...]
    notes: tuple[str, ...]
    billing: bool = False  # lands in the billing inbox when written by email
    urgent_share: float = 0.05


TOPICS = (
    Topic(
        key="late_delivery",
        weight=18,
        tags=("shipping", "delay"),
        subjects=("Where is my order {order}?", "Order {order} has not arrived", "Late delivery"),
        openings=(
            "I ordered the {product} {days} days ago (order {order}) and it still hasn't arrived. "
            "The tracking page has not changed since {weekday}. Can you tell me where it is?",
            "My order {order} was supposed to arrive on {weekday} but nothing came. "
            "I need the {product} for a trip this weekend. What is going on?",
            "Hello, the tracking for {order} says 'label created' for {days} days now. "
            "Has the {product} actually been shipped?",
        ),
        followups=(
            "Thanks. The tracking still shows no movement today. Should I wait longer?",
            "It's now been another two days and still nothing from {carrier}.",
            "I checked with my neighbours and at the front desk, nobody has the parcel.",
        ),
        replies=(
            "I'm sorry your {product} is late, {first}. I checked order {order}: {carrier} has it "
            "and the new delivery estimate is {weekday}. I'll keep an eye on it for you.",
            "Thank you for letting us know, {first}. The parcel for {order} was delayed at the "
            "{carrier} hub. I've asked them to prioritise it and will update you as soon as they "
            "answer.",
            "I understand how frustrating a late order is, especially with a trip coming up. "
            "I've sent a replacement {product} by express delivery at no cost; you'll get the "
            "tracking number by email shortly.",
        ),
        next_replies=(
            "Good news: {carrier} confirmed delivery of order {order} this morning. "
            "Enjoy your {product}, and thank you for your patience!",
            "The carrier has marked the parcel as lost, so I've refunded {amount} to your card. "
            "It should show within 3 to 5 business days.",
        ),
        notes=(
            "Carrier ticket opened with {carrier}, reference attached in the order.",
            "Third late delivery in this postcode this week; flagged to logistics.",
        ),
    ),
    Topic(
        key="refund",
        weight=12,
        tags=("refund", "billing"),
        subjects=("Refund for order {order}", "Where is my refund?", "Refund request"),
        openings=(
            "I returned the {product} from order {order} two weeks ago but haven't received my "
            "refund of {amount} yet. Could you check?",
            "I'd like a refund for the {product}, it doesn't fit what I needed. "
            "The order number is {order}.",
            "You confirmed my return on {weekday} but the {amount} is still not back on my card.",
        ),
        followups=(
            "I still don't see the refund on my statement. Is there a reference for my bank?",
            "Thank you. Does the refund include the shipping cost as well?",
        ),
        replies=(
            "Thanks for your patience, {first}. I can see the returned {product} arrived at our "
            "warehouse; I've issued the refund of {amount} today. Banks usually take 3 to 5 "
            "business days to show it.",
            "I'm sorry for the wait, {first}. The refund for {order} was stuck in review; "
            "I've approved it myself just now.",
        ),
        next_replies=(
            "The refund reference is RF-{code}. Your bank can trace it with that number.",
            "Yes, the shipping cost is included: {amount} in total. Let me know if anything "
            "else is unclear.",
        ),
        notes=(
            "Refund approved above the usual limit; the return was in perfect condition.",
            "Customer asked about the refund twice before; please prioritise.",
        ),
        billing=True,
    ),
    Topic(
        key="password_reset",
        weight=10,
        tags=("account", "login"),
        subjects=("Can't log in", "Password reset email never arrives", "Locked out of my account"),
        openings=(
            "I asked for a password reset three times but the email never arrives. "
            "I've checked my spam folder too.",
            "My account says it's locked after too many attempts. How do I get back in?",
            "I can't log in since the update on {weekday}. It keeps saying my password is wrong.",
        ),
        followups=(
            "The link worked, but now it asks for a code I never received.",
            "I'm in, thank you! One more thing: how do I turn on two-factor authentication?",
        ),
        replies=(
            "Sorry about the trouble, {first}. Our reset emails were delayed this morning; "
            "I've sent you a fresh link that is valid for one hour.",
            "I've unlocked your account, {first}. You can sign in again now, and I'd suggest "
            "choosing a new password when you do.",
        ),
        next_replies=(
            "I've sent the code again by text message. If it doesn't arrive in five minutes, "
            "reply here and I'll reset it by hand.",
            "Great to hear! Two-factor authentication is under Settings, then Security. "
            "It takes about a minute to set up.",
        ),
        notes=("Verified identity with the last four digits of the card on file.",),
    ),
    Topic(
        key="invoice",
        weight=9,
        tags=("invoice", "billing"),
        subjects=(
            "Invoice for order {order}",
            "Need a copy of invoice {invoice}",
            "VAT on invoice",
        ),
        openings=(
            "Could you send me an invoice for order {order} with our company name on it? "
            "Our accounting needs it by {weekday}.",
            "The invoice {invoice} shows the wrong billing address. Can you correct it?",
            "Please add our VAT number to invoice {invoice}; we can't book it without it.",
        ),
        followups=(
            "Thanks, but the VAT number is still missing on the new version.",
            "Perfect. Can future invoices go straight to our accounts address?",
        ),
        replies=(
            "Of course, {first}. I've attached a corrected invoice {invoice} with your company "
            "details. Let me know if your accounting team needs anything else.",
            "Thanks for catching that, {first}. I've updated the billing address and re-issued "
            "invoice {invoice}.",
        ),
        next_replies=(
            "Apologies, that was my mistake. The attached version now includes the VAT number.",
            "Done: from the next order, invoices also go to your accounts address.",
        ),
        notes=("Invoice template bug with long company names; reported to finance.",),
        billing=True,
        urgent_share=0.02,
    ),
    Topic(
        key="damaged_item",
        weight=8,
        tags=("damaged", "returns"),
        subjects=("Item arrived damaged", "Broken {product}", "Damaged in transit"),
        openings=(
            "The {product} from order {order} arrived with a cracked side. The box was crushed "
            "too. I've attached photos.",
            "My {product} was broken when I opened the parcel. What can you do?",
        ),
        followups=(
            "Do I need to send the broken one back, or can I throw it away?",
            "The replacement hasn't shipped yet according to my account.",
        ),
        replies=(
            "I'm so sorry the {product} arrived damaged, {first}. That's not the experience we "
            "want for you. I've sent a replacement today, and there's no need to return the "
            "broken one.",
            "Thank you for the photos, {first}; they make this quick. A new {product} is on its "
            "way by express delivery.",
        ),
        next_replies=(
            "No need to send it back; please recycle it if you can.",
            "It has shipped now: {carrier} tracking should update by tonight.",
        ),
        notes=("Packaging issue with this supplier again; sent photos to the warehouse team.",),
        urgent_share=0.08,
    ),
    Topic(
        key="wrong_item",
        weight=6,
        tags=("returns", "fulfilment"),
        subjects=("Wrong item received", "This is not what I ordered"),
        openings=(
            "I ordered the {product} but received something completely different. Order {order}.",
            "Wrong size in my parcel for order {order}. I need the right one before {weekday}.",
        ),
        followups=("Should I use the same box to send the wrong item back?",),
        replies=(
            "Sorry for the mix-up, {first}. I've arranged the correct {product} to ship today "
            "and emailed you a prepaid return label for the wrong item.",
        ),
        next_replies=("Any sturdy box works; the label covers up to 10 kg.",),
        notes=("Picking error; warehouse informed with the order number.",),
    ),
    Topic(
        key="cancel_subscription",
        weight=7,
        tags=("subscription", "cancellation"),
        subjects=("Cancel my subscription", "Please stop my {plan} plan", "Cancellation"),
        openings=(
            "Please cancel my {plan} subscription at the end of this month.",
            "I want to cancel. I was charged {amount} again even though I don't use it anymore.",
        ),
        followups=(
            "Will I still have access until the end of the billing period?",
            "Thanks. Can I get the last charge of {amount} back?",
        ),
        replies=(
            "I've cancelled your {plan} plan, {first}; you won't be charged again. Thank you for "
            "being with us, and if there's anything we could have done better I'd love to hear it.",
            "Done, {first}: the subscription ends on the last day of this month.",
        ),
        next_replies=(
            "Yes, you keep full access until the end of the period you paid for.",
            "Since you didn't use the service this month, I've refunded the {amount}.",
        ),
        notes=("Offered a pause instead; customer preferred to cancel.",),
        billing=True,
        urgent_share=0.01,
    ),
    Topic(
        key="change_address",
        weight=6,
        tags=("shipping", "address"),
        subjects=("Change delivery address", "Wrong address on order {order}"),
        openings=(
            "I just noticed order {order} has my old address. Can you change it before it ships?",
            "Can the {product} be delivered to my office instead? Same city.",
        ),
        followups=("Thank you! Will the delivery date stay the same?",),
        replies=(
            "I caught it just in time, {first}: order {order} now goes to the new address.",
            "No problem, {first}. I've updated the delivery address; {carrier} will bring it "
            "there.",
        ),
        next_replies=("Yes, the delivery date stays {weekday}.",),
        notes=("Address changed before label creation, no carrier fee.",),
    ),
    Topic(
        key="double_charge",
        weight=5,
        tags=("billing", "payment"),
        subjects=("Charged twice", "Double payment for order {order}"),
        openings=(
            "My card was charged twice for order {order}, {amount} each time. Please fix this.",
            "I see two identical charges of {amount} on my statement from you.",
        ),
        followups=("I still see both charges on my statement.",),
        replies=(
            "I'm sorry about the double charge, {first}. The second one was a pre-authorisation "
            "and I've released it; it disappears within a few days.",
            "You're right, {first}: you were charged twice. I've refunded the duplicate {amount}.",
        ),
        next_replies=("The release can take up to 5 business days; the reference is RF-{code}.",),
        notes=("Payment provider glitch on {weekday}; several customers affected.",),
        billing=True,
        urgent_share=0.15,
    ),
    Topic(
        key="product_question",
        weight=9,
        tags=("question", "product"),
        subjects=("Question about the {product}", "Does the {product} come in other sizes?"),
        openings=(
            "Before I order: is the {product} suitable for daily use outdoors?",
            "Does the {product} come with a warranty, and how long is it?",
            "Is the {product} back in stock soon? I'd like to order two.",
        ),
        followups=("Great, thank you. Can I still use my discount code for it?",),
        replies=(
            "Good question, {first}! The {product} is built for daily outdoor use and has a "
            "two-year warranty.",
            "Thanks for asking, {first}. It's back in stock on {weekday}; I can reserve two for "
            "you if you like.",
        ),
        next_replies=("Yes, the code works on that product until the end of the month.",),
        notes=("Customer might be interested in the bulk discount.",),
        urgent_share=0.0,
    ),
    Topic(
        key="app_bug",
        weight=6,
        tags=("bug", "app"),
        subjects=("App crashes on checkout", "Error when paying", "The app keeps freezing"),
        openings=(
            "The app crashes every time I tap 'Pay'. I'm on the latest version.",
            "I get 'Something went wrong' when I try to check out. I tried three times.",
        ),
        followups=(
            "I updated the app but it still crashes at the same step.",
            "It works now, thank you!",
        ),
        replies=(
            "Thank you for reporting this, {first}. Our team found a bug in the checkout "
            "and a fix is rolling out today. In the meantime, the website checkout works.",
            "Sorry about that, {first}. Could you tell me which phone you use? "
            "That helps our developers reproduce it.",
        ),
        next_replies=(
            "The fixed version is now in the app store. Thanks again for your patience!",
            "Glad to hear it! Thanks for helping us find it.",
        ),
        notes=("Linked to engineering ticket CHK-{code}.", "Affects Android 14 only so far."),
        urgent_share=0.1,
    ),
    Topic(
        key="discount_code",
        weight=4,
        tags=("promotion",),
        subjects=("Discount code not working", "Code {code} says expired"),
        openings=(
            "The discount code from your newsletter says it's expired but the email says "
            "valid until {weekday}.",
        ),
        followups=("Thanks! Can I use it on sale items as well?",),
        replies=(
            "Sorry about that, {first}. The code was set up with the wrong end date; "
            "I've applied the discount to your order manually.",
        ),
        next_replies=("It works on sale items too, except gift cards.",),
        notes=("Marketing informed about the wrong expiry date.",),
        urgent_share=0.0,
    ),
)

# How each channel wraps a customer's words and an agent's reply.
INBOUND_WRAPPERS = {
    "email": ("Hi,\n\n{text}\n\nThanks,\n{first}", "Hello,\n\n{text}\n\nBest,\n{full}"),
    "webform": ("{text}", "Hi there,\n{text}\n{first}"),
    "chat": ("{text}", "hi, {text}"),
    "sms": ("{text}", "Hi it's {first}. {text}"),
    "whatsapp": ("{text}", "Hello! {text}"),
    "voice": (
        "Call from {full}: {text}",
        "Voicemail transcript: Hi, this is {first}. {text} Please call me back.",
    ),
}
REPLY_WRAPPERS = {
    "email": ("Hi {first},\n\n{text}\n\nBest regards,\n{agent}",),
    "webform": ("Hi {first},\n\n{text}\n\nKind regards,\n{agent}",),
    "chat": ("{text}",),
    "sms": ("{text} - {agent}",),
    "whatsapp": ("{text}",),
    "voice": ("Called {first} back. {text}",),
}
THANKS = (
    "Thank you so much, that solved it!",
    "Great, thanks for the quick help.",
    "Perfect, all good now. Thank you!",
)
REOPEN_MESSAGES = (
    "Sorry, I have to come back to this: the problem is back.",
    "Actually it's still not sorted. Can you look again?",
)
FOLLOWUP_NOTES = (
    "Checked with the team lead; approach approved.",
    "Customer called as well; same issue, no new details.",
    "Waiting on the warehouse to confirm before we promise anything.",
)

# --- the scenario: a self-service portal launch ------------------------------------------

PORTAL_LAUNCH_TITLE = "Self-service portal launched"
PORTAL_LAUNCH_DESCRIPTION = (
    "Customers can now see orders, invoices and returns in the new self-service portal."
)
PORTAL_TAG = "portal-navigation"

# Only written after the launch: customers lost in the new portal.
PORTAL_TOPIC = Topic(
    key="portal_navigation",
    weight=0,
    tags=(PORTAL_TAG,),
    subjects=(
        "Can't find my invoice in the portal",
        "Where are my orders in the new portal?",
        "New portal: how do I start a return?",
    ),
    openings=(
        "I logged in to the new customer portal to download invoice {invoice} but I can't "
        "find it anywhere. Where did the invoices go?",
        "Since the portal changed I can't see order {order} anymore. The menu only shows my "
        "profile. How do I get to my orders?",
        "I wanted to start a return for the {product} in the new portal, but the returns page "
        "just sends me back to the home page.",
        "The new portal asks me to log in again every time I open billing. Where do I update "
        "my card?",
    ),
    followups=(
        "I found the orders page now, but the invoice download button does nothing.",
        "Is there a way to go back to the old account page? It was much easier.",
    ),
    replies=(
        "Sorry for the confusion, {first}. Invoices moved under Account, then Billing history, "
        "in the new portal. I've also attached invoice {invoice} here so you have it now.",
        "Thanks for telling us, {first}. Orders are now behind the menu icon at the top left; "
        "order {order} is there. I've passed your feedback to the portal team.",
        "I'm sorry the returns page sent you in circles. I've started the return for the "
        "{product} for you; the label is attached.",
    ),
    next_replies=(
        "The download button is a known issue in the new portal; the fix ships this week. "
        "Here is the PDF in the meantime.",
        "The old page is gone, I'm afraid, but I've shared your feedback with the team that "
        "builds the portal.",
    ),
    notes=("Another portal navigation case; added to the portal feedback list.",),
    billing=True,
)

# --- survey comments, by score band -----------------------------------------------------
# CSAT and CES bands: 1-2 low, 3 middle, 4-5 high. NPS: 0-6, 7-8, 9-10.

CSAT_COMMENTS = {
    "low": (
        "It took three emails before anyone understood my problem.",
        "The answer did not solve anything, I had to call in the end.",
        "Nobody told me the refund would take two weeks.",
        "I got a copy-paste answer that ignored my question.",
    ),
    "middle": (
        "Solved in the end, but it took longer than it should have.",
        "Friendly, but I had to explain everything twice.",
        "OK service, the delivery problem itself was annoying.",
    ),
    "high": (
        "Quick and friendly, thank you!",
        "Solved on the first reply, great service.",
        "The agent really listened and fixed it straight away.",
        "Very helpful, and the replacement arrived the next day.",
        "Clear answer, no back and forth. Thanks!",
    ),
}
CES_COMMENTS = {
    "low": (
        "I had to repeat my order number every time someone new answered.",
        "Too many steps to get a simple refund.",
        "I had to chase you twice before anything happened.",
    ),
    "middle": (
        "Fine, but I had to find the invoice number myself first.",
        "Not hard, just slow.",
    ),
    "high": (
        "Effortless: one message and it was done.",
        "Very easy, the agent did everything for me.",
        "Easy, I didn't have to do anything else.",
    ),
}
NPS_COMMENTS = {
    "low": (
        "Deliveries are late too often.",
        "Support is fine but the products keep breaking.",
        "Prices went up and the service did not get better.",
    ),
    "middle": (
        "Good products, shipping could be faster.",
        "Mostly happy, the website is a bit clunky.",
    ),
    "high": (
        "Great products and support that actually cares.",
        "Always quick to help when something goes wrong.",
        "I recommend you to all my friends, never had a bad experience.",
    ),
}
# What customers lost in the new portal write beside their (mostly low) score.
PORTAL_COMMENTS = {
    "low": (
        "could not find my invoice in the portal",
        "the new portal is confusing, the menu hides billing",
        "The new portal is a maze. I just wanted my invoice.",
        "could not find my orders in the new portal, had to write to you instead",
        "Why did you change the portal? Nothing is where it used to be.",
    ),
    "middle": (
        "The agent was nice but the new portal is really hard to navigate.",
        "Got my invoice in the end, the portal menu is confusing though.",
    ),
    "high": ("Thanks for sending the invoice directly, the portal had me lost.",),
}
