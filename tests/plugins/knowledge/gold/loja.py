"""A Portuguese gold set: a shop's help center and the questions its customers type on WhatsApp.

Questions are written as customers write them: no accents, abbreviations ("vcs", "pra", "qdo"),
typos, and whole sentences rather than keywords. Each names the document that answers it.
"""

from __future__ import annotations

DOCUMENTS: dict[str, str] = {
    "Trocas e devoluções": """# Trocas e devoluções

## Prazo para devolver
Você pode devolver qualquer produto em até 7 dias corridos depois de recebê-lo, sem explicar o motivo
(direito de arrependimento). O produto deve voltar sem sinais de uso, com etiqueta e embalagem.

## Troca por defeito
Produtos com defeito de fabricação podem ser trocados em até 90 dias. Envie fotos do defeito e o número
do pedido; se a troca for aprovada, enviamos um novo item sem custo.

## Reembolso
O estorno é feito no mesmo meio de pagamento em até 10 dias úteis depois que o produto chega ao nosso
centro de distribuição. No cartão de crédito, o valor pode aparecer em até duas faturas.
""",
    "Entregas e frete": """# Entregas e frete

## Prazos de entrega
Capitais do Sudeste recebem em 2 a 4 dias úteis; demais regiões em 5 a 12 dias úteis, contados após a
confirmação do pagamento.

## Frete grátis
O frete é grátis para compras acima de R$ 199 em todo o Brasil, exceto produtos volumosos como colchões.

## Rastreamento
O código de rastreio chega por e-mail e WhatsApp assim que o pedido é despachado. Acompanhe no site dos
Correios ou da transportadora.
""",
    "Formas de pagamento": """# Formas de pagamento

## PIX
No PIX o pagamento é aprovado na hora e você ganha 5% de desconto. O código vale por 30 minutos.

## Boleto bancário
O boleto vence em 3 dias úteis e a compensação leva até 2 dias úteis depois do pagamento.

## Cartão de crédito
Parcelamos em até 10 vezes sem juros nos cartões Visa, Mastercard, Elo e American Express, com parcela
mínima de R$ 30.
""",
    "Garantia": """# Garantia

Todos os eletrônicos têm garantia de 12 meses do fabricante. A garantia estendida pode ser contratada no
carrinho por mais 12 ou 24 meses. Para acionar a garantia, procure a assistência técnica autorizada com a
nota fiscal.
""",
    "Horário de atendimento": """# Horário de atendimento

Nosso atendimento funciona de segunda a sexta, das 8h às 20h, e aos sábados, das 9h às 14h. Domingos e
feriados nacionais não há atendimento humano; o assistente virtual responde 24 horas.
""",
    "Lojas físicas": """# Lojas físicas

Temos lojas em São Paulo (Shopping Ibirapuera e Rua Oscar Freire), no Rio de Janeiro (Barra Shopping) e
em Belo Horizonte (Savassi). As lojas abrem das 10h às 22h, inclusive aos domingos. Você pode retirar na
loja o pedido feito no site, sem pagar frete.
""",
    "Tabela de tamanhos": """# Tabela de tamanhos

## Roupas
P veste 36 a 38, M veste 40 a 42, G veste 44 a 46 e GG veste 48 a 50. Meça o busto e a cintura com uma
fita métrica e compare com a tabela de cada produto.

## Calçados
A numeração segue o padrão brasileiro. Se ficar entre dois números, escolha o maior.
""",
    "Cupons e promoções": """# Cupons e promoções

Cupons não são cumulativos: só um cupom por pedido. O cupom de primeira compra dá 10% de desconto e vale
por 30 dias após o cadastro. Promoções relâmpago duram enquanto houver estoque.
""",
    "Conta e senha": """# Conta e senha

Para criar sua conta, informe nome, CPF e e-mail. Esqueceu a senha? Clique em "Esqueci minha senha" na
tela de login e enviaremos um link para cadastrar uma nova senha. O link expira em 1 hora.
""",
    "Cancelamento de pedido": """# Cancelamento de pedido

Pedidos ainda não despachados podem ser cancelados pelo site em "Meus pedidos" ou pelo WhatsApp. Depois
do envio, recuse a entrega ou solicite a devolução. Pedidos pagos no PIX são estornados em até 2 dias úteis.
""",
    "Nota fiscal": """# Nota fiscal

A nota fiscal eletrônica (NF-e) é enviada por e-mail quando o pedido é faturado. Para empresas, informe o
CNPJ e a inscrição estadual no cadastro antes da compra; não alteramos notas já emitidas.
""",
    "Cuidados com os produtos": """# Cuidados com os produtos

Lave as peças de algodão do avesso, em água fria, e não use alvejante. Seque à sombra. Couro deve ser
limpo com pano úmido e hidratante próprio; não molhe os sapatos de camurça.
""",
    "Vendas no atacado": """# Vendas no atacado

Para compras acima de 50 peças, oferecemos preço de atacado e condições especiais para lojistas com CNPJ.
Fale com o time comercial pelo e-mail atacado@loja.com.br.
""",
}

QUESTIONS: list[tuple[str, str]] = [
    ("qual o prazo pra devolver um produto?", "Trocas e devoluções"),
    ("comprei e me arrependi posso devolver", "Trocas e devoluções"),
    ("o produto veio com defeito, como faço a troca?", "Trocas e devoluções"),
    ("quanto tempo demora o estorno no cartao", "Trocas e devoluções"),
    ("quando vou receber meu dinheiro de volta", "Trocas e devoluções"),
    ("em quantos dias chega no rio de janeiro", "Entregas e frete"),
    ("vcs tem frete gratis?", "Entregas e frete"),
    ("qual o valor minimo pra nao pagar frete", "Entregas e frete"),
    ("cade o codigo de rastreio do meu pedido", "Entregas e frete"),
    ("como rastrear minha encomenda", "Entregas e frete"),
    ("tem desconto no pix?", "Formas de pagamento"),
    ("da pra parcelar em quantas vezes sem juros", "Formas de pagamento"),
    ("aceitam cartao elo", "Formas de pagamento"),
    ("o boleto vence quando", "Formas de pagamento"),
    ("qual a parcela minima", "Formas de pagamento"),
    ("meu celular tem garantia de quanto tempo", "Garantia"),
    ("como contratar garantia extendida", "Garantia"),
    ("onde aciono a garantai do fabricante", "Garantia"),
    ("que horas vcs abrem no sabado", "Horário de atendimento"),
    ("tem atendimento no domingo?", "Horário de atendimento"),
    ("qual o horario de atendimento", "Horário de atendimento"),
    ("tem loja em belo horizonte", "Lojas físicas"),
    ("posso retirar na loja o que comprei no site", "Lojas físicas"),
    ("endereço da loja de sao paulo", "Lojas físicas"),
    ("visto 42, qual tamanho eu compro", "Tabela de tamanhos"),
    ("fiquei entre dois numeros de sapato", "Tabela de tamanhos"),
    ("como medir pra saber meu tamanho", "Tabela de tamanhos"),
    ("posso usar dois cupons no mesmo pedido", "Cupons e promoções"),
    ("tem cupom de primeira compra", "Cupons e promoções"),
    ("esqueci minha senha", "Conta e senha"),
    ("como criar uma conta", "Conta e senha"),
    ("o link de nova senha expirou", "Conta e senha"),
    ("quero cancelar meu pedido", "Cancelamento de pedido"),
    ("como cancelo uma compra que ja foi enviada", "Cancelamento de pedido"),
    ("preciso da nota fiscal da minha compra", "Nota fiscal"),
    ("como colocar o cnpj da empresa na nota", "Nota fiscal"),
    ("como lavar camiseta de algodao", "Cuidados com os produtos"),
    ("posso molhar sapato de camurca?", "Cuidados com os produtos"),
    ("voces vendem no atacado pra lojista", "Vendas no atacado"),
    ("quero comprar 100 pecas pra minha loja", "Vendas no atacado"),
]
