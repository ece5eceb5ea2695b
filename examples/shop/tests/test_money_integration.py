"""Package-level integration: the public ``shop`` API works end to end."""

import unittest

import shop


class MoneyIntegrationTest(unittest.TestCase):
    def test_public_api_exports_money(self) -> None:
        self.assertIn("Money", shop.__all__)
        self.assertIs(shop.Money, shop.money.Money)

    def test_order_total_in_cents(self) -> None:
        lines = [(shop.Money(1999), 2), (shop.Money(450), 3)]
        total = sum((price * qty for price, qty in lines), shop.Money.zero())
        self.assertEqual(total, shop.Money(5348))


if __name__ == "__main__":
    unittest.main()
