"""Knowledge search latency: one tenant with a big help center among 99 small ones, on the SQL paths.

Usage: .venv/bin/python bench/knowledge_search.py [--chunks 100000] [--quick] [--repeat 5] [--not-leakproof]
       [--no-docs] [--keep DIR]

Starts a private embedded PostgreSQL 18 (pgvector) on a temporary data directory, migrates it with every
installed plugin, provisions 100 organizations through the kernel's tenancy service, and loads their
"Atendimento" collections in bulk as the database owner: 99 with 50-200 passages, one with ``--chunks``
(generated Portuguese help-center text with a Zipf-like vocabulary, 60-200 words a passage, and a
384-dimension unit vector per passage: a topic centroid plus noise). Lengths, term statistics and the
collection's totals are computed with the ingestion's own SQL (``_count_terms``); the GIN and HNSW
indexes are dropped before the load and rebuilt after it, timed.

Then, with a warm cache, each of ~50 customer questions is searched ``--repeat`` times on the big
tenant and on a small one, each in a tenant-scoped session: full text (``search(mode="fulltext")``),
vector and hybrid (the steps ``search()`` takes, with a precomputed query vector instead of a call to
an embedding model). Prints p50/p95/mean, the query plans (EXPLAIN ANALYZE, BUFFERS), and writes the
"Knowledge search" section of docs/performance.md (not with ``--quick`` or ``--no-docs``), keeping the
hand-written notes after its ``NOTES`` marker. ``atendai migrate`` marks the text-search and trigram
functions LEAKPROOF when it runs as a superuser (``kernel.db.leakproof``), as it does here;
``--not-leakproof`` also measures full text and hybrid on the big tenant with them not leakproof, the
state of a server migrated by a role that is not a superuser.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import platform
import random
import re
import secrets
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
SECTION = "## Knowledge search"
DIMS = 384
NOISE = 1.0
"""Noise per component around a topic centroid: passages of one topic end up near cosine 0.5."""
SMALL_CHUNKS = (50, 200)
TENANTS = 100
LIMIT = 8
"""Passages a search returns (the API's default)."""

# --- the generated help center -----------------------------------------------------------------------
# Each topic: document titles, section headings, and sentences whose {slots} are filled from the lists
# below. Every list is ordered from common to rare and drawn from with Zipf weights, so a few words
# (entrega, prazo, pedido) are everywhere and most are rare, as in real help centers.

TOPICS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "entrega": (
        ["Prazos de entrega", "Entrega em {cidade}", "Prazos de entrega para {uf}", "Como funciona a entrega"],
        ["Prazo", "Regiões atendidas", "Entrega agendada", "Atrasos", "Rastreamento"],
        [
            "O prazo de entrega para {cidade} é de {dias} dias úteis após a confirmação do pagamento.",
            "Os pedidos são enviados pela {transportadora} e o código de rastreamento chega por e-mail.",
            "Entregamos de segunda a sábado, das {hora} às {hora2}, em horário comercial.",
            "Se ninguém estiver no endereço, a {transportadora} faz mais duas tentativas de entrega.",
            "Você acompanha a entrega pelo aplicativo, na página Meus pedidos, ou pelo {canal}.",
            "Para o interior de {uf} o prazo pode chegar a {dias} dias úteis.",
            "Pedidos feitos até as {hora} saem no mesmo dia para {cidade} e região metropolitana.",
            "Em períodos de {evento} os prazos de entrega podem aumentar em até {n} dias.",
            "Produtos grandes, como {produto}, são entregues por transportadora própria com agendamento.",
            "Se o pedido atrasar, fale com a gente pelo {canal} informando o número do pedido.",
            "A entrega expressa chega em até {n} dias úteis nas capitais.",
            "Não entregamos em caixas postais; informe um endereço com número e complemento.",
        ],
    ),
    "frete": (
        ["Frete e custos de envio", "Frete grátis", "Cálculo do frete"],
        ["Como calcular", "Frete grátis", "Valores por região", "Exceções"],
        [
            "O frete é grátis para compras acima de {valor} nas regiões Sul e Sudeste.",
            "O valor do frete aparece no carrinho assim que você informa o CEP {cep}.",
            "Para {uf} o frete fixo é de {valor}, qualquer que seja o tamanho do pedido.",
            "Itens pesados, como {produto}, pagam frete à parte mesmo em promoções de frete grátis.",
            "Clientes do programa de fidelidade têm frete grátis em todos os pedidos.",
            "O frete é calculado pelo peso, pelas dimensões da caixa e pela distância até {cidade}.",
            "Cupons de frete grátis não valem para entregas expressas.",
            "Na retirada na loja não há cobrança de frete.",
        ],
    ),
    "devolucao": (
        ["Trocas e devoluções", "Política de devolução", "Como devolver um produto", "Troca de tamanho"],
        ["Prazo", "Como pedir", "Produtos com defeito", "Etiqueta de postagem", "Condições"],
        [
            "Você pode devolver qualquer produto em até {dias} dias corridos após o recebimento.",
            "Produtos com defeito podem ser trocados em até {dias} dias.",
            "Geramos uma etiqueta de postagem gratuita para os Correios; basta levar o pacote a uma agência.",
            "A troca de tamanho é gratuita na primeira vez; a segunda troca paga o frete.",
            "O produto deve voltar sem sinais de uso, com etiqueta e na embalagem original.",
            "Para pedir a troca, envie o número do pedido e uma foto do produto pelo {canal}.",
            "Peças íntimas, brincos e produtos personalizados não podem ser trocados, exceto por defeito.",
            "Trocas de produtos comprados em {shopping} podem ser feitas em qualquer loja da rede.",
            "Quando a devolução chega ao nosso centro de distribuição, a análise leva até {n} dias úteis.",
            "Se o produto chegou com {defeito}, você escolhe entre a troca e o reembolso.",
            "Presentes podem ser trocados com a etiqueta de troca, sem a nota fiscal.",
        ],
    ),
    "garantia": (
        ["Garantia dos produtos", "Assistência técnica", "Garantia de {tipo}"],
        ["Prazo de garantia", "O que a garantia cobre", "Assistência autorizada", "Como acionar"],
        [
            "Todos os produtos têm garantia legal de {dias} dias contra defeitos de fabricação.",
            "O {produto} tem garantia do fabricante de {n} meses, além da garantia legal.",
            "A garantia não cobre mau uso, quedas, contato com água ou {defeito} causado pelo cliente.",
            "Para acionar a garantia, guarde a nota fiscal e fale com a assistência técnica da {marca}.",
            "A assistência técnica autorizada em {cidade} fica no bairro {bairro}.",
            "Se o conserto levar mais de {dias} dias, você pode pedir a troca ou o dinheiro de volta.",
            "Eletrônicos com {defeito} são enviados para análise técnica antes da troca.",
            "A garantia estendida pode ser contratada no carrinho por {valor}.",
            "Tênis com a sola descolada dentro de {n} meses de uso são trocados pela garantia.",
        ],
    ),
    "pagamento": (
        ["Formas de pagamento", "Pagamento com PIX", "Pagamento com boleto", "Parcelamento no cartão"],
        ["PIX", "Boleto", "Cartão de crédito", "Parcelamento", "Pagamento recusado"],
        [
            "Aceitamos {pagamento}, {pagamento2} e {pagamento3}.",
            "No PIX o pagamento é aprovado na hora e você ganha {percent}% de desconto.",
            "O boleto vence em {n} dias úteis e a compensação leva até {n2} dias úteis.",
            "Você pode parcelar em até {parcelas} vezes sem juros no cartão de crédito.",
            "A parcela mínima é de {valor}.",
            "Aceitamos cartões das bandeiras Visa, Mastercard, Elo, American Express e Hipercard.",
            "Se o pagamento for recusado, confira os dados do cartão ou fale com o {banco}.",
            "O código PIX expira em {n} minutos; depois disso, o pedido é cancelado automaticamente.",
            "Pagamentos com boleto não podem ser parcelados.",
            "Na loja física aceitamos cartão de débito, crédito, PIX e vale-presente.",
            "O pagamento com dois cartões está disponível para pedidos acima de {valor}.",
        ],
    ),
    "pedidos": (
        ["Acompanhar meu pedido", "Cancelamento de pedido", "Alterar um pedido"],
        ["Status do pedido", "Cancelamento", "Alteração de endereço", "Pedido incompleto"],
        [
            "Você acompanha o status do pedido na área Meus pedidos do site ou do aplicativo.",
            "O pedido pode ser cancelado sem custo até ser enviado para a transportadora.",
            "Depois que o pedido sai do centro de distribuição, não é possível alterar o endereço de entrega.",
            "Se o pedido chegou incompleto, avise pelo {canal} em até {n} dias.",
            "Para cancelar, acesse Meus pedidos, escolha o pedido e toque em Cancelar.",
            "Pedidos pagos com boleto e não pagos são cancelados depois de {n} dias.",
            "Não é possível incluir produtos em um pedido já finalizado; faça um novo pedido.",
            "Um pedido com vários produtos pode chegar em entregas separadas.",
            "O status Em separação indica que o pedido está sendo preparado no estoque de {cidade}.",
        ],
    ),
    "tamanhos": (
        ["Guia de tamanhos", "Tabela de medidas: {tipo}", "Como escolher o tamanho"],
        ["Tabela de medidas", "Como medir", "Numeração", "Modelagem"],
        [
            "O tamanho {tamanho} corresponde a {n}0 centímetros de busto e {n2}0 de cintura.",
            "A modelagem do {produto} é justa; se estiver em dúvida, escolha um tamanho acima.",
            "Para medir o pé, fique em pé sobre uma folha de papel e marque o calcanhar e o dedo maior.",
            "A numeração dos calçados vai do {tamanho} ao {tamanho2}.",
            "As calças jeans seguem a numeração de 34 a 48; a tabela mostra cintura, quadril e comprimento.",
            "Cada produto tem a sua tabela de medidas na página, logo abaixo das fotos.",
            "A {marca} veste um pouco menor que as outras marcas.",
            "A camiseta tem modelagem ampla e veste do {tamanho} ao {tamanho2}.",
        ],
    ),
    "produtos": (
        ["{tipo} {marca}", "Cuidados com {material}", "Coleção de {evento}", "Cores e acabamentos"],
        ["Descrição", "Cores disponíveis", "Materiais", "Cuidados", "Composição"],
        [
            "O {produto} é feito de {material} e está disponível nas cores {cor}, {cor2} e {cor3}.",
            "Lave o {tipo} à mão ou na máquina no ciclo delicado, com água fria, e não use alvejante.",
            "A cor {cor} pode variar um pouco de acordo com a tela do seu aparelho.",
            "O {produto} tem acabamento {adjetivo} e {adjetivo2}.",
            "Para não desbotar, lave as peças de {material} do avesso e seque à sombra.",
            "O {tipo} da {marca} pesa {n}00 gramas e mede {n2}0 centímetros.",
            "A composição é {percent}% {material} e o restante {material2}.",
            "Este modelo é {adjetivo}, ideal para o dia a dia.",
            "A coleção de {evento} chega às lojas em {mes}.",
            "O {produto} acompanha manual em português e certificado do Inmetro.",
            "O {produto} tem {recurso} e {recurso2}.",
            "Destaques do modelo {modelo}: {recurso}, {recurso2} e {recurso3}.",
            "O modelo {modelo} substitui o {modelo2} e mantém {recurso}.",
            "O {produto} foi pensado para {uso} e também vai bem em {uso2}.",
            "Da linha {linha}, o {tipo} combina {recurso} com acabamento {adjetivo}.",
            "Quem comprou o {produto} também levou {tipo} da {marca}.",
        ],
    ),
    "lojas": (
        ["Nossas lojas", "Loja {shopping}", "Lojas em {cidade}", "Horário de funcionamento"],
        ["Endereços", "Horário", "Feriados", "Estacionamento", "Serviços da loja"],
        [
            "A loja do {shopping} abre de segunda a sábado das {hora} às {hora2} e aos domingos das 14h às 20h.",
            "Temos lojas em {cidade}, {cidade2} e {cidade3}.",
            "Em feriados nacionais as lojas de rua ficam fechadas; as de shopping seguem o horário do shopping.",
            "A loja da rua {rua}, no bairro {bairro}, tem estacionamento conveniado.",
            "Nas lojas físicas os preços podem ser diferentes dos preços do site.",
            "A loja de {cidade} fica no {shopping}, piso {n}.",
            "O horário de atendimento das lojas muda em {evento}; confira na página de cada loja.",
            "Todas as lojas aceitam trocas de compras feitas no site.",
        ],
    ),
    "retirada": (
        ["Retire na loja", "Compre e retire", "Retirada em {shopping}"],
        ["Como funciona", "Prazo para retirar", "Quem pode retirar", "Documentos"],
        [
            "Na opção Retire na loja, o pedido fica disponível em até {n} horas depois da aprovação do pagamento.",
            "Você recebe um aviso por e-mail e pelo {canal} quando o pedido estiver pronto para retirada.",
            "Leve um documento com foto e o número do pedido para retirar.",
            "Outra pessoa pode retirar o pedido com o seu documento e uma autorização.",
            "O pedido fica guardado na loja por {dias} dias; depois disso, é cancelado e o valor é devolvido.",
            "A retirada está disponível em todas as lojas de {cidade}.",
            "Produtos grandes, como {produto}, não podem ser retirados na loja.",
        ],
    ),
    "conta": (
        ["Minha conta", "Cadastro e senha", "Dados pessoais"],
        ["Criar conta", "Esqueci a senha", "Alterar dados", "Login"],
        [
            "Para criar a conta, informe nome, CPF, e-mail e uma senha com pelo menos {n} caracteres.",
            "Se esqueceu a senha, toque em Esqueci minha senha e siga o link que enviamos por e-mail.",
            "O link de troca de senha vale por {n} horas.",
            "Você altera o e-mail, o telefone e os endereços na área Minha conta.",
            "O CPF não pode ser alterado depois do cadastro; fale com o {canal} se houver um erro.",
            "Você pode entrar com a conta do Google ou da Apple.",
            "Depois de {n} tentativas de login erradas, a conta fica bloqueada por 15 minutos.",
            "Para excluir a conta, acesse Privacidade em Minha conta e confirme pelo e-mail.",
        ],
    ),
    "cupons": (
        ["Cupons e promoções", "{evento}", "Regulamento de promoções"],
        ["Como usar", "Regras", "Cupom de primeira compra", "Validade"],
        [
            "O cupom {cupom} dá {percent}% de desconto na primeira compra.",
            "Os cupons não são cumulativos: use um por pedido.",
            "A {evento} começa em {mes} e tem descontos de até {percent}% em {tipo}.",
            "Se o cupom não funcionar, confira a validade e o valor mínimo do pedido, de {valor}.",
            "Cupons não valem para produtos vendidos por parceiros do marketplace.",
            "Digite o cupom no carrinho, no campo Cupom de desconto, antes de finalizar a compra.",
            "Promoções do site não valem nas lojas físicas, a menos que o regulamento diga o contrário.",
            "O desconto do cupom não se aplica ao frete.",
        ],
    ),
    "nota_fiscal": (
        ["Nota fiscal", "Segunda via da nota fiscal", "Nota fiscal para empresas"],
        ["Emissão", "Segunda via", "CNPJ", "Dados da nota"],
        [
            "A nota fiscal eletrônica é enviada por e-mail assim que o pedido é faturado.",
            "A segunda via da nota fiscal está em Meus pedidos, no botão Nota fiscal.",
            "Para emitir a nota com CNPJ, faça o cadastro como pessoa jurídica antes da compra.",
            "Não é possível alterar os dados da nota fiscal depois da emissão.",
            "Compras feitas na loja {shopping} têm a nota emitida no caixa.",
            "A nota fiscal é necessária para acionar a garantia do {produto}.",
        ],
    ),
    "estoque": (
        ["Disponibilidade e estoque", "Avise-me quando chegar", "Pré-venda"],
        ["Produto esgotado", "Avise-me", "Pré-venda", "Reposição"],
        [
            "Quando um produto está esgotado, toque em Avise-me para receber um e-mail quando ele voltar.",
            "A reposição do {produto} está prevista para {mes}.",
            "Nem todos os tamanhos e cores voltam ao estoque.",
            "Na pré-venda, o {produto} é enviado a partir de {dia} de {mes}.",
            "O estoque do site é diferente do estoque das lojas físicas.",
            "Você consulta o estoque da loja {shopping} na página do produto, em Disponível na loja.",
            "O tamanho {tamanho} na cor {cor} costuma esgotar rápido.",
        ],
    ),
    "atendimento": (
        ["Fale conosco", "Canais de atendimento", "Horário do atendimento"],
        ["WhatsApp", "Telefone", "Chat", "Horário", "Reclamações"],
        [
            "Nosso atendimento funciona de segunda a sexta das {hora} às {hora2} e aos sábados das 9h às 13h.",
            "Fale com a gente pelo WhatsApp {telefone}, pelo chat do site ou pelo e-mail sac@loja.com.br.",
            "No {canal}, a assistente virtual responde na hora e passa para um atendente quando precisa.",
            "Para falar com um atendente humano, digite atendente no WhatsApp.",
            "Reclamações são respondidas em até {n} dias úteis.",
            "A atendente {nome} acompanha o seu caso até a solução.",
            "O telefone {telefone} atende capitais e regiões metropolitanas.",
        ],
    ),
    "privacidade": (
        ["Privacidade e proteção de dados", "LGPD", "Cookies"],
        ["Dados que coletamos", "Seus direitos", "Cookies", "Exclusão de dados"],
        [
            "Tratamos os seus dados pessoais de acordo com a Lei Geral de Proteção de Dados, a LGPD.",
            "Não vendemos nem compartilhamos os seus dados com terceiros para publicidade.",
            "Você pode pedir uma cópia dos seus dados ou a exclusão da conta a qualquer momento.",
            "Usamos cookies para lembrar o carrinho e medir o uso do site.",
            "O encarregado de dados responde pelo e-mail privacidade@loja.com.br em até {n} dias.",
            "Os dados do cartão de crédito não ficam guardados em nossos servidores.",
        ],
    ),
    "presentes": (
        ["Embalagem para presente", "Cartão-presente", "Lista de presentes"],
        ["Embalagem", "Cartão com mensagem", "Vale-presente", "Troca de presentes"],
        [
            "A embalagem para presente custa {valor} e pode ser escolhida no carrinho.",
            "Você pode incluir um cartão com mensagem de até {n}0 caracteres.",
            "O vale-presente pode ser usado no site e nas lojas por até {n} meses.",
            "O preço não aparece na nota que acompanha o presente.",
            "Presentes de {evento} podem ser trocados até {dia} de {mes}.",
        ],
    ),
    "reembolso": (
        ["Reembolso e estorno", "Prazo do estorno", "Devolução do dinheiro"],
        ["Cartão de crédito", "PIX", "Boleto", "Prazos"],
        [
            "O reembolso é feito no mesmo meio de pagamento, em até {dias} dias úteis depois que o produto chegar.",
            "No cartão de crédito, o estorno aparece em até duas faturas, conforme o {banco}.",
            "Compras pagas com PIX são reembolsadas na mesma chave em até {n} dias úteis.",
            "Compras pagas com boleto são reembolsadas por transferência para uma conta no seu CPF.",
            "Você pode escolher receber o reembolso como vale-compras, com {percent}% a mais.",
            "Se o estorno não aparecer no prazo, envie o comprovante pelo {canal}.",
        ],
    ),
    "marketplace": (
        ["Produtos de parceiros", "Vendido e entregue por parceiros", "Seja um parceiro"],
        ["Quem vende", "Entrega de parceiros", "Trocas com parceiros"],
        [
            "Produtos vendidos por parceiros mostram o nome do vendedor na página do produto.",
            "O prazo de entrega de parceiros é informado pelo vendedor e pode ser maior.",
            "Trocas de produtos de parceiros são combinadas com o vendedor, com a nossa mediação.",
            "A loja {marca} é parceira oficial e vende {tipo} com garantia de {n} meses.",
            "Para vender no nosso marketplace, cadastre o CNPJ na página Seja um parceiro.",
        ],
    ),
    "fidelidade": (
        ["Programa de fidelidade", "Cashback", "Pontos e recompensas"],
        ["Como funciona", "Cashback", "Validade dos pontos", "Níveis"],
        [
            "A cada {valor} em compras você ganha {n} pontos no programa de fidelidade.",
            "O cashback de {percent}% fica disponível {n} dias depois da entrega.",
            "Os pontos expiram em {n}2 meses se não forem usados.",
            "Use o cashback no carrinho, em Usar saldo, na próxima compra.",
            "Clientes do nível Ouro têm frete grátis e atendimento prioritário pelo {canal}.",
        ],
    ),
}

GENERIC = [
    "Em caso de dúvida, fale com a nossa equipe pelo {canal}.",
    "As informações desta página valem para compras feitas no site, no aplicativo e nas lojas.",
    "Esta política pode mudar; a versão em vigor é sempre a publicada aqui.",
    "Guarde o número do pedido: ele agiliza o atendimento.",
    "Os prazos contam a partir da confirmação do pagamento.",
    "Dias úteis são de segunda a sexta, sem contar feriados nacionais.",
    "Atualizado em {mes} de 2026.",
    "Veja também as perguntas frequentes sobre {tema}.",
    "Se preferir, visite uma das nossas lojas em {cidade}.",
    "O atendimento por {canal} é o mais rápido.",
    "Confira as condições antes de finalizar a compra.",
    "Promoções e preços podem mudar sem aviso prévio.",
    "Nossa equipe responde em português, inglês e espanhol.",
    "- {produto} {cor}, tamanho {tamanho}: {valor}.",
    "- {produto} da {marca} em {material}: {valor} ou {parcelas}x de {valor2}.",
    "- {produto} modelo {modelo}, {recurso}: {valor}.",
]


def _words(text: str) -> list[str]:
    return text.split(", ")


TIPOS = _words(
    "camiseta, calça jeans, tênis de corrida, vestido, jaqueta, moletom, bermuda, camisa social, blusa, saia, "
    "sandália, bota, chinelo, mochila, bolsa, carteira, relógio, óculos de sol, boné, meia, pijama, biquíni, "
    "sutiã, cueca, casaco, blazer, legging, regata, polo, cinto, fone de ouvido, caixa de som, smartphone, "
    "carregador, cabo USB, notebook, tablet, smartwatch, liquidificador, batedeira, air fryer, cafeteira, "
    "micro-ondas, geladeira, fogão, aspirador de pó, ventilador, ar-condicionado, ferro de passar, secador de "
    "cabelo, chapinha, panela, jogo de panelas, frigideira, faqueiro, jogo de cama, toalha de banho, travesseiro, "
    "edredom, cortina, tapete, luminária, sofá, colchão, cadeira de escritório, mesa de jantar, guarda-roupa, "
    "estante, perfume, hidratante, protetor solar, shampoo, maquiagem, brinquedo, bicicleta, patinete, capacete, "
    "bola de futebol, barraca, garrafa térmica, lancheira, pelúcia, quebra-cabeça, videogame, controle sem fio, "
    "monitor, teclado, mouse, impressora, roteador, câmera, pulseira, colar, brinco, anel, agasalho, macacão"
)
MARCAS = _words(
    "Aurora, Solaris, Bravo, Lumina, Caiçara, Vento Sul, Ipê, Jacarandá, Maré Alta, Serra Azul, Boreal, Tupã, "
    "Araucária, Pampa, Cerrado, Ondina, Vértice, Nimbus, Quasar, Orla, Brisa, Itapuã, Guará, Tucano, Sabiá, "
    "Jangada, Maracá, Cajuína, Pitanga, Acerola, Urbano, Kairós, Zênite, Alvorada, Cascata, Mandacaru, Juçara, "
    "Baobá, Arpoador, Piracema"
)
# Brand and product-line names: the long tail of proper nouns a catalog brings (a few common, most rare).
_SYLLABLES = random.Random(7)
MARCAS += [
    prefix + suffix
    for prefix in _words(
        "Sol, Mar, Vita, Terra, Luz, Rio, Flor, Casa, Bela, Nova, Viva, Top, Mega, Eco, Pura, Doce, Forte, Leve, "
        "Alta, Boa, Gran, Mundo, Arte, Ponto, Linha, Cor, Som, Tech, Fit, Max"
    )
    for suffix in _words(
        "flex, mar, lar, tex, plus, vita, form, line, zon, brás, nor, sul, tur, via, lux, tem, ara, ita"
    )
]
_SYLLABLES.shuffle(MARCAS)
LINHAS = [name + " " + edition for name in MARCAS[::7] for edition in ("Essencial", "Pro", "Clássica")]
USOS = _words(
    "o dia a dia, academia, corrida, trabalho, viagem, praia, festas, casamento, cozinha, escritório, home office, "
    "escola, faculdade, camping, trilha, pesca, ciclismo, natação, ioga, pilates, futebol, dança, balada, "
    "churrasco, jantar, café da manhã, quarto de bebê, sala de estar, varanda, jardim, lavanderia, banheiro, "
    "apartamento pequeno, dias frios, dias quentes, chuva, neve, inverno, verão, outono, primavera, crianças, "
    "idosos, gestantes, pets, cachorros, gatos, presentes corporativos, datas especiais, formatura, batizado, "
    "aniversário, entrevista de emprego, reunião, home theater, jogos, estudos, leitura, maquiagem, skincare, "
    "cabelos cacheados, pele sensível, pés largos, joelhos, coluna, postura, descanso, sono, meditação"
)
CORES = _words(
    "preto, branco, azul-marinho, cinza, vermelho, bege, verde-oliva, rosa, off-white, marrom, azul-claro, "
    "amarelo, vinho, grafite, caramelo, lilás, laranja, verde-água, terracota, mostarda, prata, dourado, "
    "chumbo, nude, coral, turquesa, areia, petróleo"
)
MATERIAIS = _words(
    "algodão, poliéster, couro, couro sintético, malha, linho, viscose, jeans, elastano, nylon, lã, seda, "
    "aço inox, alumínio, plástico, vidro temperado, cerâmica, madeira maciça, bambu, silicone, tricoline, "
    "moletinho, sarja, veludo, camurça"
)
ADJETIVOS = _words(
    "confortável, leve, resistente, macio, impermeável, respirável, elegante, durável, prático, compacto, "
    "fosco, brilhante, antiaderente, antialérgico, ergonômico, versátil, ajustável, dobrável, silencioso, "
    "econômico, térmico, reforçado, acolchoado, sustentável, reciclável, lavável, portátil, sem costura"
)
CIDADES = _words(
    "São Paulo, Rio de Janeiro, Belo Horizonte, Curitiba, Porto Alegre, Salvador, Recife, Fortaleza, Brasília, "
    "Goiânia, Campinas, Florianópolis, Manaus, Belém, Vitória, Santos, Niterói, São Luís, Maceió, Natal, "
    "João Pessoa, Teresina, Aracaju, Cuiabá, Campo Grande, Londrina, Maringá, Joinville, Blumenau, Ribeirão Preto, "
    "Sorocaba, São José dos Campos, Uberlândia, Juiz de Fora, Contagem, Caxias do Sul, Pelotas, Feira de Santana, "
    "Campina Grande, Caruaru, Petrolina, Juazeiro do Norte, Imperatriz, Palmas, Porto Velho, Rio Branco, Macapá, "
    "Boa Vista, Chapecó, Cascavel, Foz do Iguaçu, Ponta Grossa, Bauru, Piracicaba, Jundiaí, Osasco, Guarulhos, "
    "Santo André, São Bernardo do Campo, Mogi das Cruzes, Taubaté, Franca, Presidente Prudente, Marília, "
    "Araraquara, São Carlos, Limeira, Americana, Indaiatuba, Itu, Volta Redonda, Petrópolis, Campos dos Goytacazes, "
    "Macaé, Cabo Frio, Nova Iguaçu, Duque de Caxias, Montes Claros, Ipatinga, Governador Valadares, Divinópolis, "
    "Poços de Caldas, Varginha, Anápolis, Rio Verde, Dourados, Rondonópolis, Sinop, Santarém, Marabá, Parauapebas, "
    "Mossoró, Arapiraca, Ilhéus, Vitória da Conquista, Itabuna, Camaçari, Lauro de Freitas, Balneário Camboriú, "
    "Itajaí, Criciúma, Lages, Passo Fundo, Santa Maria, Canoas, Novo Hamburgo, Gramado, Bento Gonçalves, "
    "Erechim, Uruguaiana, Bagé, Toledo, Guarapuava, Apucarana, Umuarama, Paranaguá, Jaraguá do Sul, Brusque, "
    "Tubarão, Rio do Sul, Araçatuba, São José do Rio Preto, Botucatu, Ourinhos, Assis, Registro, Guaratinguetá, "
    "Caraguatatuba, Ubatuba, Bragança Paulista, Atibaia, Valinhos, Vinhedo, Sumaré, Hortolândia, Barueri, Cotia, "
    "Itapevi, Carapicuíba, Diadema, Mauá, Suzano, Itaquaquecetuba, Teresópolis, Nova Friburgo, Resende, Angra "
    "dos Reis, Barra Mansa, Linhares, Colatina, Cachoeiro de Itapemirim, Guarapari, Sete Lagoas, Lavras, "
    "Barbacena, Teófilo Otoni, Patos de Minas, Uberaba, Araxá, Itumbiara, Catalão, Luziânia, Sobral, Crato, "
    "Parnaíba, Picos, Caxias, Bacabal, Garanhuns, Vitória de Santo Antão, Paulista, Olinda, Jaboatão dos "
    "Guararapes, Patos, Sousa, Cajazeiras, Parintins, Itacoatiara, Castanhal, Altamira, Ji-Paraná, Ariquemes, "
    "Cruzeiro do Sul, Santana, Gurupi, Araguaína, Barreiras, Juazeiro, Jequié, Alagoinhas, Porto Seguro, "
    "Teixeira de Freitas, Eunápolis, Paulo Afonso"
)
RECURSOS = _words(
    "gola redonda, manga longa, bolso canguru, capuz ajustável, cós elástico, botões de madeira, zíper invisível, "
    "forro térmico, palmilha em gel, cadarço reforçado, tela sensível ao toque, bateria de longa duração, "
    "Bluetooth 5.3, cancelamento de ruído, resistência à água, controle de temperatura, timer digital, "
    "cesto removível, lâminas de aço, motor de 1200 watts, doze velocidades, função turbo, jarra de vidro, "
    "filtro permanente, desligamento automático, iluminação de LED, carregamento rápido, entrada USB-C, "
    "tela AMOLED, GPS integrado, monitor cardíaco, pulseira de silicone, alça regulável, compartimento para "
    "notebook, tecido antiodor, proteção UV, secagem rápida, costura dupla, acabamento acetinado, estampa floral, "
    "estampa xadrez, listras horizontais, bolinhas, tingimento artesanal, lavagem estonada, barra desfiada, "
    "cintura alta, corte reto, modelagem slim, ombro caído, decote em V, alças finas, bojo removível, "
    "solado antiderrapante, amortecimento em espuma, cabedal em tricô, biqueira reforçada, fivela metálica, "
    "fecho magnético, trava de segurança, rodinhas giratórias, cabo telescópico, cadeado TSA, pés de borracha, "
    "revestimento cerâmico, tampa de vidro, alça de baquelite, base de indução, capacidade de cinco litros, "
    "voltagem bivolt, consumo classe A, controle remoto, aplicativo no celular, assistente de voz, "
    "comando por gestos, sensor de presença, memória de 128 GB, câmera de 50 megapixels, processador octa-core, "
    "tela de 6,7 polegadas, moldura fina, som estéreo, graves potentes, microfone embutido, conexão Wi-Fi, "
    "espuma viscoelástica, molas ensacadas, pillow top, tecido hipoalergênico, fios egípcios, percal 200 fios, "
    "enchimento de fibra siliconada, madeira de reflorestamento, pintura eletrostática, pés palito, "
    "regulagem de altura, apoio lombar, braços reguláveis, rodízios de nylon, encosto reclinável"
)
MODELOS = [
    f"{prefix}-{number}"
    for prefix in _words("AX, BR, CL, DX, EV, FT, GX, HP, KM, LT")
    for number in range(100, 1000, 23)
]
UFS = _words(
    "São Paulo, Minas Gerais, Rio de Janeiro, Bahia, Paraná, Rio Grande do Sul, Pernambuco, Ceará, Pará, "
    "Santa Catarina, Goiás, Maranhão, Amazonas, Espírito Santo, Paraíba, Mato Grosso, Rio Grande do Norte, "
    "Alagoas, Piauí, Distrito Federal, Mato Grosso do Sul, Sergipe, Rondônia, Tocantins, Acre, Amapá, Roraima"
)
BAIRROS = _words(
    "Centro, Pinheiros, Moema, Tatuapé, Savassi, Batel, Boa Viagem, Meireles, Copacabana, Barra da Tijuca, "
    "Tijuca, Botafogo, Vila Mariana, Santana, Lapa, Mooca, Itaim Bibi, Jardins, Liberdade, Bela Vista, Aldeota, "
    "Pituba, Barra, Moinhos de Vento, Cidade Baixa, Água Verde, Bigorrilho, Funcionários, Lourdes, Asa Sul, "
    "Asa Norte, Setor Bueno, Trindade, Ponta Negra, Umarizal, Jardim Camburi, Gonzaga, Icaraí, Ponta Verde, "
    "Tambaú, Jatiúca, Cambuí, Vila Olímpia, Perdizes, Campo Belo, Ipanema, Leblon, Grajaú, Méier, Madureira"
)
SHOPPINGS = _words(
    "Shopping Center Norte, Shopping Ibirapuera, Shopping Eldorado, BH Shopping, Shopping Barra, "
    "Shopping Curitiba, Iguatemi, Shopping Recife, Shopping Iguatemi Fortaleza, Park Shopping, "
    "Shopping Vitória, Shopping Tijuca, Morumbi Shopping, Shopping Metrô Tatuapé, Shopping Anália Franco, "
    "Shopping Praia de Belas, Shopping Salvador, Shopping Manaura, Shopping Flamboyant, Shopping Mueller, "
    "Shopping Pátio Paulista, Shopping Villa-Lobos"
)
RUAS = _words(
    "Augusta, Oscar Freire, XV de Novembro, das Flores, da Praia, Sete de Setembro, Direita, do Comércio, "
    "Barão de Itapetininga, Voluntários da Pátria, Padre Chagas, Marechal Deodoro, Tiradentes, São Bento, "
    "José Bonifácio, Santos Dumont, Dom Pedro II, Getúlio Vargas"
)
TRANSPORTADORAS = _words("Correios, Jadlog, Loggi, Total Express, Azul Cargo, Braspress, transportadora parceira")
PAGAMENTOS = _words(
    "PIX, cartão de crédito, boleto bancário, cartão de débito, vale-presente, Mercado Pago, PicPay, "
    "Apple Pay, Google Pay, cartão da loja, saldo de cashback"
)
BANCOS = _words("banco emissor, Nubank, Itaú, Bradesco, Banco do Brasil, Caixa, Santander, Inter, C6 Bank, Sicoob")
CANAIS = _words("WhatsApp, chat do site, e-mail, telefone, aplicativo, SAC, Instagram, Reclame Aqui")
DEFEITOS = _words(
    "costura solta, zíper quebrado, tela trincada, mancha no tecido, botão faltando, sola descolada, "
    "produto que não liga, bateria que não carrega, peça faltando, amassado na caixa, risco na pintura, "
    "cor diferente da foto, tamanho errado, vazamento, ruído no motor, defeito no carregador, fio desencapado"
)
EVENTOS = _words(
    "Black Friday, Natal, Dia das Mães, Dia dos Pais, Dia dos Namorados, volta às aulas, Carnaval, "
    "Dia do Cliente, Páscoa, Dia das Crianças, Cyber Monday, liquidação de inverno, liquidação de verão"
)
MESES = _words("janeiro, fevereiro, março, abril, maio, junho, julho, agosto, setembro, outubro, novembro, dezembro")
NOMES = _words("Ana, Bruno, Carla, Diego, Eduarda, Felipe, Gabriela, Henrique, Isabela, João, Larissa, Marcos")
CUPONS = _words("BEMVINDO10, FRETEGRATIS, PRIMEIRACOMPRA, VOLTEI15, APP20, NIVER10, PIX5, BLACK30")
TAMANHOS = _words("M, P, G, GG, PP, XG, 38, 40, 42, 36, 44, 39, 41, 37, 34, 46, 48, 35, 43, 33")
HORAS = _words("9h, 10h, 8h, 18h, 12h, 14h, 20h, 22h, 13h, 19h, 8h30, 21h")
TELEFONES = _words("(11) 4002-8922, 0800 123 4567, (21) 3003-1234")
CEPS = _words("01310-100, 20040-020, 30130-010, 80010-000, 90010-150, 40020-000")
TEMAS = _words(
    "entregas, frete, trocas e devoluções, garantia, pagamentos, pedidos, tamanhos, produtos, lojas, "
    "retirada na loja, sua conta, cupons, nota fiscal, estoque, atendimento, privacidade, presentes, reembolsos"
)


def _zipf(count: int, exponent: float) -> list[float]:
    return list(itertools.accumulate(1 / (rank + 1) ** exponent for rank in range(count)))


class Slots:
    """The values of a sentence's ``{slots}``, drawn on demand (``str.format_map``)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, items: list[str], exponent: float = 1.0) -> str:
        weights = _WEIGHTS.get((id(items), exponent))
        if weights is None:
            weights = _WEIGHTS[(id(items), exponent)] = _zipf(len(items), exponent)
        return self.rng.choices(items, cum_weights=weights)[0]

    def __getitem__(self, key: str) -> str:
        name = key.rstrip("0123456789")
        rng = self.rng
        if name == "produto":
            tipo = self.pick(TIPOS)
            return f"{tipo} {self.pick(MARCAS)}" if rng.random() < 0.5 else tipo
        if name == "valor":
            return f"R$ {rng.choice((19, 29, 49, 79, 99, 149, 199, 299, 499, 999, 1299, 2499))},{rng.choice(('90', '99', '00'))}"
        if name in ("n", "dias", "parcelas", "percent", "dia"):
            ranges = {"n": (2, 9), "dias": (2, 30), "parcelas": (2, 12), "percent": (5, 50), "dia": (1, 28)}
            low, high = ranges[name]
            return str(rng.randint(low, high))
        return self.pick(_LISTS[name])


_LISTS: dict[str, list[str]] = {
    "tipo": TIPOS,
    "marca": MARCAS,
    "cor": CORES,
    "material": MATERIAIS,
    "adjetivo": ADJETIVOS,
    "cidade": CIDADES,
    "uf": UFS,
    "bairro": BAIRROS,
    "shopping": SHOPPINGS,
    "rua": RUAS,
    "recurso": RECURSOS,
    "uso": USOS,
    "linha": LINHAS,
    "modelo": MODELOS,
    "transportadora": TRANSPORTADORAS,
    "pagamento": PAGAMENTOS,
    "banco": BANCOS,
    "canal": CANAIS,
    "defeito": DEFEITOS,
    "evento": EVENTOS,
    "mes": MESES,
    "nome": NOMES,
    "cupom": CUPONS,
    "tamanho": TAMANHOS,
    "hora": HORAS,
    "telefone": TELEFONES,
    "cep": CEPS,
    "tema": TEMAS,
}
_WEIGHTS: dict[tuple[int, float], list[float]] = {}
TOPIC_NAMES = list(TOPICS)
TOPIC_WEIGHTS = _zipf(len(TOPIC_NAMES), 0.7)

# (question, topic): what customers type, accents dropped, abbreviations and typos included.
QUESTIONS: list[tuple[str, str]] = [
    ("qual o prazo de entrega para Curitiba?", "entrega"),
    ("quanto tempo demora pra chegar meu pedido em Recife", "entrega"),
    ("voces entregam no sabado?", "entrega"),
    ("meu pedido esta atrasado, o que eu faço?", "entrega"),
    ("como rastrear minha encomenda dos correios", "entrega"),
    ("prazo de entegra para sao paulo capital", "entrega"),
    ("o frete é gratis acima de quanto?", "frete"),
    ("quanto custa o frete para o interior de Minas Gerais", "frete"),
    ("como calculo o frete pelo cep", "frete"),
    ("qual o prazo pra devolver um produto com defeito?", "devolucao"),
    ("quero trocar o tamanho da camiseta", "devolucao"),
    ("como faço a devoluçao de uma compra feita no site", "devolucao"),
    ("posso trocar um presente sem nota fiscal?", "devolucao"),
    ("a etiqueta de postagem é gratuita?", "devolucao"),
    ("qual a garantia do liquidificador?", "garantia"),
    ("garantai do fone de ouvido", "garantia"),
    ("onde fica a assistencia tecnica autorizada", "garantia"),
    ("meu tenis descolou a sola depois de um mes, tem garantia?", "garantia"),
    ("vcs aceitam pix?", "pagamento"),
    ("posso parcelar no cartao em 10x sem juros?", "pagamento"),
    ("o boleto vence em quantos dias", "pagamento"),
    ("paguei o boleto e o pedido nao foi aprovado", "pagamento"),
    ("aceitam cartão de débito na loja física?", "pagamento"),
    ("como cancelar meu pedido", "pedidos"),
    ("da pra mudar o endereço de entrega depois da compra?", "pedidos"),
    ("comprei errado, posso alterar o pedio?", "pedidos"),
    ("chegou so metade do meu pedido", "pedidos"),
    ("qual tamanho devo escolher, uso 40 no tênis", "tamanhos"),
    ("tabela de medidas da calça jeans", "tamanhos"),
    ("a camisa veste grande ou pequeno?", "tamanhos"),
    ("essa jaqueta tem na cor azul marinho?", "produtos"),
    ("como lavar a camiseta de algodao sem desbotar", "produtos"),
    ("a air fryer vem com manual em portugues?", "produtos"),
    ("qual o horário da loja do shopping no domingo?", "lojas"),
    ("tem loja de vocês em Belo Horizonte?", "lojas"),
    ("horario de funcionamento no feriado", "lojas"),
    ("posso retirar na loja o que comprei no site?", "retirada"),
    ("quanto tempo demora pra ficar disponivel a retirada", "retirada"),
    ("esqueci minha senha e nao consigo entrar", "conta"),
    ("como mudar o email do meu cadastro", "conta"),
    ("quero excluir minha conta e meus dados", "privacidade"),
    ("o cupom de desconto nao funciona", "cupons"),
    ("tem cupom de primeira compra?", "cupons"),
    ("quando começa a black friday", "cupons"),
    ("como emitir a segunda via da nota fical", "nota_fiscal"),
    ("preciso da nota fiscal com CNPJ da empresa", "nota_fiscal"),
    ("quando volta ao estoque o tênis de corrida tamanho 42?", "estoque"),
    ("o produto esgotado vai ser reposto?", "estoque"),
    ("qual o numero do whatsapp de atendimento", "atendimento"),
    ("quero falar com um atendente humano", "atendimento"),
    ("voces vendem meus dados? como funciona a LGPD", "privacidade"),
    ("da pra mandar embrulhado pra presente com cartão?", "presentes"),
    ("quando cai o estorno no cartão de crédito", "reembolso"),
    ("reembolso via pix demora quanto tempo", "reembolso"),
    ("o produto é vendido por parceiro, quem entrega?", "marketplace"),
    ("como uso meu cashback na proxima compra", "fidelidade"),
]


@dataclass
class Doc:
    id: uuid.UUID
    title: str
    topic: int
    chunks: list[tuple[str, str]] = field(default_factory=list)
    """(title, content) of each passage, in order."""


def _sentence(rng: random.Random, slots: Slots, topic: str) -> str:
    roll = rng.random()
    if roll < 0.1:
        template = rng.choice(GENERIC)
    else:
        name = topic if roll < 0.85 else rng.choices(TOPIC_NAMES, cum_weights=TOPIC_WEIGHTS)[0]
        sentences = TOPICS[name][2]
        template = slots.pick(sentences, 0.6)
    return template.format_map(slots)


def generate_documents(rng: random.Random, chunks: int) -> Iterator[Doc]:
    """Help-center documents of ``chunks`` passages in all, 1 to 16 passages a document."""
    from plugins.knowledge.chunking import TITLE_SEPARATOR

    slots = Slots(rng)
    left = chunks
    while left > 0:
        topic = rng.choices(range(len(TOPIC_NAMES)), cum_weights=TOPIC_WEIGHTS)[0]
        name = TOPIC_NAMES[topic]
        titles, headings, _ = TOPICS[name]
        doc = Doc(uuid.uuid4(), slots.pick(titles, 0.5).format_map(slots), topic)
        for _ in range(min(left, rng.randint(1, 16))):
            words = int(rng.triangular(60, 200, 100))
            parts: list[str] = []
            count = 0
            while count < words:
                sentence = _sentence(rng, slots, name)
                parts.append(sentence)
                count += sentence.count(" ") + 1
                if rng.random() < 0.15:
                    parts.append("\n\n")
            heading = rng.choice(headings)
            doc.chunks.append((f"{doc.title}{TITLE_SEPARATOR}{heading}", " ".join(parts).replace(" \n\n ", "\n\n")))
        left -= len(doc.chunks)
        yield doc


def unit_vector(values: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def centroids(seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.random() - 0.5 for _ in range(DIMS)] for _ in TOPIC_NAMES]


def query_vectors(topic_centroids: list[list[float]], seed: int) -> list[list[float]]:
    """A question's stand-in embedding: its topic's centroid plus the passages' noise."""
    rng = random.Random(seed)
    vectors = []
    for _question, topic in QUESTIONS:
        centroid = topic_centroids[TOPIC_NAMES.index(topic)]
        vectors.append(unit_vector([c + (rng.random() - 0.5) * NOISE for c in centroid]))
    return vectors


# --- the database ----------------------------------------------------------------------------------------


@dataclass
class Tenant:
    id: uuid.UUID
    slug: str
    collection_id: uuid.UUID
    chunks: int = 0
    documents: int = 0


@dataclass
class Seeding:
    timings: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - started
        print(f"  {name:<48} {self.timings[name]:7.1f} s", flush=True)


def start_database(data_dir: Path) -> Any:
    """The kernel on a private embedded server, migrated with every installed plugin (as the tests do)."""
    from kernel.config import load_settings
    from kernel.db import migrate
    from kernel.db.embedded import start_embedded
    from kernel.runtime import build_kernel

    for name in [name for name in os.environ if name.startswith(("DATABASE_", "ATENDAI_"))]:
        del os.environ[name]
    server = start_embedded(data_dir, "atendai_bench")
    settings = load_settings(
        env_file=None,
        environment="test",
        database_url=server.owner_url,
        data_dir=str(data_dir),
        secret_key=secrets.token_hex(32),
        auto_migrate=False,
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        log_level="WARNING",
        log_json=False,
    )
    kernel = build_kernel(settings)
    kernel.connect()
    migrate.upgrade(kernel.migration_plan())
    return kernel


async def provision(kernel: Any, count: int) -> list[Tenant]:
    """Organizations through the kernel's tenancy service (each gets its "Atendimento" collection)."""
    from sqlalchemy import select

    from kernel.tenancy.services import provision_organization
    from plugins.knowledge.models import Collection

    tenants = []
    for index in range(count):
        async with kernel.db.session() as session:
            made = await provision_organization(
                kernel,
                session,
                slug=f"loja-{index:03d}",
                name=f"Loja {index:03d}",
                admin_email=f"admin@loja-{index:03d}.example",
                admin_password=secrets.token_hex(8),
            )
            collection_id = (await session.execute(select(Collection.id))).scalar_one()
            await session.commit()
        tenants.append(Tenant(made.tenant_id, made.slug, collection_id))
    return tenants


STAGING = """
CREATE SCHEMA bench_seed;
CREATE UNLOGGED TABLE bench_seed.chunks (
    seq bigint, id uuid, tenant_id uuid, collection_id uuid, document_id uuid, ordinal int,
    title text, content text, sha text, topic int
);
CREATE TABLE bench_seed.centroids (topic int PRIMARY KEY, v vector);
CREATE FUNCTION bench_seed.noise(dims int, scale real) RETURNS vector LANGUAGE sql VOLATILE AS
    $$ SELECT array_agg((random()::real - 0.5) * scale)::vector FROM generate_series(1, dims) $$;
"""

# The passage's length the way ``apply_chunks`` computes it from ``tsv`` (title lexemes twice), over the
# same expression the generated ``tsv`` column has for Portuguese, so the rows are written once.
LOAD_CHUNKS = """
INSERT INTO knowledge_chunks (id, tenant_id, collection_id, document_id, ordinal, title, content, content_sha256,
    language, length, meta, embedding, embedding_dims, hit_count, created_at, updated_at)
SELECT s.id, s.tenant_id, s.collection_id, s.document_id, s.ordinal, s.title, s.content, s.sha, 'pt',
    coalesce((SELECT sum(cardinality(u.positions) + coalesce(cardinality(array_positions(u.weights, 'A')), 0))
              FROM unnest(setweight(to_tsvector('atendai_pt', s.title), 'A')
                          || setweight(to_tsvector('atendai_pt', s.content), 'B')) u), 0),
    '{}', l2_normalize(c.v + bench_seed.noise(%(dims)s::int, %(noise)s::real)), %(dims)s, 0, now(), now()
FROM bench_seed.chunks s JOIN bench_seed.centroids c ON c.topic = s.topic
WHERE s.seq %% %(parts)s = %(part)s
"""

LENGTH_MISMATCHES = """
SELECT count(*) FROM knowledge_chunks c
WHERE c.length <> coalesce((SELECT sum(cardinality(u.positions) + coalesce(cardinality(array_positions(u.weights,
    'A')), 0)) FROM unnest(c.tsv) u), 0)
"""

SEARCH_INDEXES = ("ix_knowledge_chunks_tsv", f"ix_knowledge_chunks_embedding_{DIMS}")


async def owner_connection(kernel: Any) -> Any:
    import psycopg

    from kernel.db.urls import libpq_url

    return await psycopg.AsyncConnection.connect(libpq_url(kernel.db.urls.owner), autocommit=True)


async def load(kernel: Any, tenants: list[Tenant], seeding: Seeding, seed: int) -> None:
    """Documents and passages in bulk as the owner, then the ingestion's statistics, indexes and ANALYZE."""
    rng = random.Random(seed)
    conn = await owner_connection(kernel)
    try:
        await conn.execute(
            "UPDATE knowledge_collections SET embedding_provider = 'openai', "
            "embedding_model = 'text-embedding-3-small', embedding_dims = %s",
            (DIMS,),
        )
        definitions = {}
        for name in SEARCH_INDEXES:
            row = await (await conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (name,))).fetchone()
            definitions[name] = row[0]
            await conn.execute(f"DROP INDEX {name}")
        await conn.execute(STAGING)
        async with conn.cursor() as cur:
            for topic, vector in enumerate(centroids(seed)):
                await cur.execute(
                    "INSERT INTO bench_seed.centroids VALUES (%s, %s::vector)", (topic, _vector_text(vector))
                )

        with seeding.step(f"generate text, COPY {sum(t.chunks for t in tenants):,} passages to staging"):
            await _copy_corpus(conn, tenants, rng)
        with seeding.step("INSERT ... SELECT: tsvector, lengths, vectors (2 connections)"):
            await _insert_chunks(kernel)
        await conn.execute("DROP SCHEMA bench_seed CASCADE")
        with seeding.step("term statistics (ingest._count_terms per collection)"):
            await count_terms(tenants)
        mismatches = await (await conn.execute(LENGTH_MISMATCHES)).fetchone()
        if mismatches[0]:
            raise RuntimeError(f"{mismatches[0]} passages have a length other than the ingestion's")
        with seeding.step("CREATE INDEX ix_knowledge_chunks_tsv (GIN)"):
            await conn.execute(definitions[SEARCH_INDEXES[0]])
        with seeding.step(f"CREATE INDEX ix_knowledge_chunks_embedding_{DIMS} (HNSW)"):
            # The graph must fit maintenance_work_mem, or the build slows down several times.
            await conn.execute("SET maintenance_work_mem = '1GB'")
            await conn.execute(definitions[SEARCH_INDEXES[1]])
            await conn.execute("RESET maintenance_work_mem")
        with seeding.step("VACUUM ANALYZE"):
            await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def _vector_text(vector: list[float]) -> str:
    return "[" + ",".join(f"{value:.6f}" for value in vector) + "]"


async def _copy_corpus(conn: Any, tenants: list[Tenant], rng: random.Random) -> None:
    from plugins.knowledge.chunking import TITLE_SEPARATOR, content_hash

    sequence = itertools.count()
    documents = []
    async with conn.cursor() as cur:
        async with cur.copy(
            "COPY bench_seed.chunks (seq, id, tenant_id, collection_id, document_id, ordinal, title, content, "
            "sha, topic) FROM STDIN"
        ) as copy:
            for tenant in tenants:
                for doc in generate_documents(rng, tenant.chunks):
                    documents.append((tenant, doc))
                    for ordinal, (title, content) in enumerate(doc.chunks):
                        await copy.write_row(
                            (
                                next(sequence),
                                uuid.uuid4(),
                                tenant.id,
                                tenant.collection_id,
                                doc.id,
                                ordinal,
                                title,
                                content,
                                content_hash(title, content),
                                doc.topic,
                            )
                        )
                    tenant.documents += 1
        async with cur.copy(
            "COPY knowledge_documents (id, tenant_id, collection_id, title, kind, body, language, status, progress, "
            "error_params, chunk_count, embedded_count, meta, version, indexed_at, created_at, updated_at) FROM STDIN"
        ) as copy:
            for tenant, doc in documents:
                body = "\n\n".join(
                    f"## {title.split(TITLE_SEPARATOR)[-1]}\n\n{content}" for title, content in doc.chunks
                )
                await copy.write_row(
                    (
                        doc.id,
                        tenant.id,
                        tenant.collection_id,
                        doc.title,
                        "editor",
                        f"# {doc.title}\n\n{body}",
                        "pt",
                        "ready",
                        100,
                        "{}",
                        len(doc.chunks),
                        len(doc.chunks),
                        "{}",
                        1,
                        "now",
                        "now",
                        "now",
                    )
                )


async def _insert_chunks(kernel: Any) -> None:
    parts = 2  # the machine's cores: to_tsvector is the cost, and it runs on both

    async def part(index: int) -> None:
        conn = await owner_connection(kernel)
        try:
            await conn.execute("SELECT setseed(%s)", (0.1 * (index + 1),))
            await conn.execute(LOAD_CHUNKS, {"dims": DIMS, "noise": NOISE, "parts": parts, "part": index})
        finally:
            await conn.close()

    await asyncio.gather(*(part(index) for index in range(parts)))


async def count_terms(tenants: list[Tenant]) -> None:
    """Each collection's lexeme document frequencies, chunk count and total length, by the ingestion's SQL."""
    from sqlalchemy import select

    from kernel.sdk import tenant_session
    from plugins.knowledge.ingest import _count_terms
    from plugins.knowledge.models import Chunk, Collection

    for tenant in tenants:
        async with tenant_session(tenant.id) as session:
            collection = await session.get(Collection, tenant.collection_id)
            ids = list(
                (await session.execute(select(Chunk.id).where(Chunk.collection_id == tenant.collection_id))).scalars()
            )
            await _count_terms(session, collection, ids, sign=1)
            await session.commit()


# --- measuring -------------------------------------------------------------------------------------------

Steps = dict[str, float]
WARMUP = 10
"""Questions searched before the timed passes of each measurement (caches, and the prepared statements'
switch to generic plans after five executions)."""
CUSTOM_PLANS = "SELECT set_config('plan_cache_mode', 'force_custom_plan', true)"


@dataclass(frozen=True)
class Mode:
    label: str
    kind: str
    """``fulltext``, ``vector`` or ``hybrid``."""


MODES = [Mode("full text (BM25)", "fulltext"), Mode("vector", "vector"), Mode("hybrid", "hybrid")]
NOT_LEAKPROOF = "not leakproof"
"""The code label of the measurements with the search functions not leakproof (``--not-leakproof``)."""


async def run_search(session: Any, mode: Mode, query: str, vector: list[float], steps: Steps) -> list[uuid.UUID]:
    """One search; returns the hits' passage ids. ``steps`` gets the time of each step and of the whole."""
    from plugins.knowledge.search import search

    began = time.perf_counter()
    if mode.kind == "fulltext":
        result = await search(session, query, mode="fulltext", limit=LIMIT)
        hits = [hit.chunk_id for hit in result.hits]
    else:
        found = await _search_steps(session, query, vector, steps, lexical=mode.kind == "hybrid")
        hits = [hit.chunk_id for hit in found]
    steps["search"] = time.perf_counter() - began
    return hits


async def _search_steps(session: Any, query: str, vector: list[float], steps: Steps, *, lexical: bool) -> list[Any]:
    """What ``search()`` does in ``hybrid`` (or ``vector``) mode, with ``vector`` as the query's embedding."""
    from sqlalchemy import text

    from kernel.sdk import database_capabilities
    from plugins.knowledge import search

    async def timed(name: str, call: Awaitable[Any]) -> Any:
        started = time.perf_counter()
        value = await call
        steps[name] = steps.get(name, 0.0) + time.perf_counter() - started
        return value

    query = " ".join(query.split())[:1000]
    await session.execute(text(CUSTOM_PLANS))
    collections = await timed("collections", search._collections(session, None))
    capabilities = await database_capabilities()
    tenant_id = collections[0].tenant_id
    ids = [collection.id for collection in collections]
    lists: dict[str, list[tuple[uuid.UUID, float]]] = {}
    tsqueries: dict[str, str] = {}
    if lexical:
        advanced = query if search._ADVANCED.search(query) else None
        found = await timed(
            "lexical", search._lexical(session, collections, query, category_ids=None, meta=None, advanced=advanced)
        )
        lists["lexical"] = sorted(found.ranked, key=lambda r: -r[1])[: search.CANDIDATES]
        if found.tsquery:
            tsqueries[collections[0].language] = found.tsquery
        lists["title"] = await timed(
            "titles", search._titles(session, ids, tenant_id, query, category_ids=None, meta=None)
        )
    if capabilities.pgvector:
        lists["vector"] = await timed(
            "vector", search._vector(session, ids, tenant_id, vector, category_ids=None, meta=None)
        )
    fused = search.fuse(lists)[:LIMIT]
    scores = {name: dict(lists.get(name, [])) for name in ("lexical", "vector", "title")}
    return await timed("hits", search._hits(session, fused, scores, tsqueries))


@dataclass
class Measured:
    samples: list[float]
    steps: dict[str, float]
    empty: int

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples)


async def measure(tenant: Tenant, mode: Mode, vectors: list[list[float]], repeat: int) -> Measured:
    """Every question ``repeat`` times (after a warm-up), each in a tenant-scoped session of its own."""
    from kernel.sdk import tenant_session

    asked = list(zip(QUESTIONS, vectors, strict=True))
    samples: list[float] = []
    totals: dict[str, float] = defaultdict(float)
    empty = 0
    for warm, ((question, _topic), vector) in itertools.chain(
        ((True, item) for item in asked[:WARMUP]), ((False, item) for _ in range(repeat) for item in asked)
    ):
        steps: Steps = {}
        async with tenant_session(tenant.id) as session:
            found = await run_search(session, mode, question, vector, steps)
        if warm:
            continue
        samples.append(steps["search"] * 1000)
        for name, seconds in steps.items():
            totals[name] += seconds * 1000
        empty += not found
    return Measured(samples, {name: total / len(samples) for name, total in totals.items()}, empty // repeat)


# --- what the title ranking adds, and the search functions not leakproof---------------------------------------------------


async def title_share(tenant: Tenant, vectors: list[list[float]]) -> float:
    """The share of the hybrid top 8 that stays when the title ranking is left out of the fusion."""
    from sqlalchemy import text

    from kernel.sdk import tenant_session
    from plugins.knowledge import search

    kept = []
    for (question, _topic), vector in zip(QUESTIONS, vectors, strict=True):
        async with tenant_session(tenant.id) as session:
            await session.execute(text(CUSTOM_PLANS))
            collections = await search._collections(session, None)
            ids = [collection.id for collection in collections]
            lexical = await search._lexical(session, collections, question, category_ids=None, meta=None, advanced=None)
            titles = await search._titles(session, ids, tenant.id, question, category_ids=None, meta=None)
            near = await search._vector(session, ids, tenant.id, vector, category_ids=None, meta=None)
        every = {
            item
            for item, _score, _ranks in search.fuse({"lexical": lexical.ranked, "title": titles, "vector": near})[
                :LIMIT
            ]
        }
        some = {item for item, _score, _ranks in search.fuse({"lexical": lexical.ranked, "vector": near})[:LIMIT]}
        kept.append(len(every & some) / max(1, len(every)))
    return statistics.fmean(kept)


async def set_leakproof(kernel: Any, on: bool) -> None:
    """Mark the search functions leakproof or not (``kernel.db.leakproof``), in this private server only."""
    from kernel.db.leakproof import SEARCH_FUNCTIONS

    conn = await owner_connection(kernel)
    try:
        for name, arguments in SEARCH_FUNCTIONS:
            found = await (await conn.execute("SELECT to_regprocedure(%s)", (f"{name}({arguments})",))).fetchone()
            if found and found[0]:
                await conn.execute(f"ALTER FUNCTION {name}({arguments}) {'LEAKPROOF' if on else 'NOT LEAKPROOF'}")
    finally:
        await conn.close()


# --- query plans -----------------------------------------------------------------------------------------

PLANNED = {
    "lexical (BM25)": "WITH q AS",
    "titles (trigram)": "word_similarity",
    "vector (HNSW)": "<=>",
    "hits (headlines)": "ts_headline",
}
INDEX_RE = re.compile(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)")
INTEGER_TYPES = ("smallint", "integer", "bigint")


@dataclass
class Plan:
    text: str
    execution_ms: float
    indexes: list[str]
    jit: bool
    generic: bool = False
    """The steady-state plan (after five executions) is generic."""
    steady_text: str = ""
    steady_ms: float = 0.0
    steady_indexes: list[str] = field(default_factory=list)


def _plan_facts(text: str) -> tuple[float, list[str]]:
    found = re.search(r"Execution Time: ([\d.]+) ms", text)
    return (float(found.group(1)) if found else 0.0), sorted(set(INDEX_RE.findall(text)))


def _literal(value: Any, pgtype: str) -> str:
    """``value`` as a literal of the prepared statement's parameter type, as the driver would have sent it."""
    if value is None:
        return "NULL"
    if isinstance(value, list):
        inner = ",".join('"' + str(item).replace("\\", "\\\\").replace('"', '\\"') + '"' for item in value)
        written = "{" + inner + "}"
    elif isinstance(value, float) and pgtype in INTEGER_TYPES:
        written = str(int(value))  # asyncpg sends a float bound to an integer parameter truncated
    else:
        written = str(value)
    return "'" + written.replace("'", "''") + "'::" + pgtype


async def _steady_plan(raw: Any, statement: str, parameters: Any) -> tuple[bool, str]:
    """Prepare ``statement``, execute it five times, and EXPLAIN the sixth: the plan a pooled connection keeps."""
    await raw.execute("PREPARE bench_plan AS " + statement)
    try:
        types = await raw.fetchval(
            "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = 'bench_plan'"
        )
        args = ", ".join(_literal(value, pgtype) for value, pgtype in zip(parameters or (), types, strict=True))
        for _ in range(5):
            await raw.execute(f"EXECUTE bench_plan({args})")
        rows = await raw.fetch(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_plan({args})")
        generic = await raw.fetchval("SELECT generic_plans FROM pg_prepared_statements WHERE name = 'bench_plan'")
        return generic > 0, "\n".join(row[0] for row in rows)
    finally:
        await raw.execute("DEALLOCATE bench_plan")


async def explain(kernel: Any, tenant: Tenant, question: str, vector: list[float]) -> dict[str, Plan]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement a hybrid search runs, in that search's transaction:
    as a first execution (a custom plan), and after five executions of the prepared statement."""
    from sqlalchemy import event

    from kernel.sdk import tenant_session

    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        captured.append((statement, parameters))

    engine = kernel.db.engine.sync_engine
    plans: dict[str, Plan] = {}
    async with tenant_session(tenant.id) as session:
        event.listen(engine, "before_cursor_execute", capture)
        try:
            await run_search(session, MODES[2], question, vector, {})
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        raw = (await (await session.connection()).get_raw_connection()).driver_connection
        for name, marker in PLANNED.items():
            found = [(s, p) for s, p in captured if marker in s]
            if not found:
                continue
            statement, parameters = found[-1]
            rows = await raw.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *(parameters or ()))
            text = "\n".join(row[0] for row in rows)
            ms, indexes = _plan_facts(text)
            generic, steady = await _steady_plan(raw, statement, parameters)
            steady_ms, steady_indexes = _plan_facts(steady)
            plans[name] = Plan(text, ms, indexes, "JIT:" in text, generic, steady, steady_ms, steady_indexes)
    return plans


# --- report ----------------------------------------------------------------------------------------------


async def database_facts(kernel: Any, big: Tenant) -> dict[str, Any]:
    conn = await owner_connection(kernel)
    try:

        async def one(sql: str, *args: Any) -> Any:
            return (await (await conn.execute(sql, args or None)).fetchone())[0]

        facts: dict[str, Any] = {
            "postgres": await one("SHOW server_version"),
            "pgvector": await one("SELECT extversion FROM pg_extension WHERE extname = 'vector'"),
        }
        for setting in ("shared_buffers", "work_mem", "effective_cache_size", "jit"):
            facts[setting] = await one(f"SHOW {setting}")
        facts["leakproof"] = await one(
            "SELECT bool_and(proleakproof) FROM pg_proc WHERE oid IN (to_regprocedure('pg_catalog.ts_match_vq"
            "(tsvector, tsquery)'), to_regprocedure('word_similarity_op(text, text)'))"
        )
        sizes = {}
        for table in ("knowledge_chunks", "knowledge_documents", "knowledge_terms"):
            sizes[table] = (
                await one(f"SELECT count(*) FROM {table}"),  # noqa: S608 - fixed table names
                await one("SELECT pg_total_relation_size(%s::regclass)", table),
                await one("SELECT pg_relation_size(%s::regclass)", table),
            )
        facts["sizes"] = sizes
        rows = await (
            await conn.execute(
                "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
                "WHERE indrelid = 'knowledge_chunks'::regclass ORDER BY 2 DESC"
            )
        ).fetchall()
        facts["indexes"] = [(name, size) for name, size in rows if size > 8192 * 2]
        facts["toast"] = await one(
            "SELECT pg_total_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'knowledge_chunks'::regclass"
        )
        facts["distinct_lexemes"] = await one(
            "SELECT count(*) FROM knowledge_terms WHERE collection_id = %s", big.collection_id
        )
        for lexeme in ("entreg", "praz"):
            df = await one(
                "SELECT coalesce(max(df), 0) FROM knowledge_terms WHERE collection_id = %s AND lexeme = %s",
                big.collection_id,
                lexeme,
            )
            facts[f"df_{lexeme}"] = df / max(1, big.chunks)
        return facts
    finally:
        await conn.close()


def mb(size: int) -> str:
    return f"{size / 1024 / 1024:,.0f} MB" if size >= 10 * 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def memory_gib() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    return "?"


def render(
    args: argparse.Namespace,
    tenants: list[Tenant],
    facts: dict[str, Any],
    seeding: Seeding,
    results: dict[tuple[str, str, str], Measured],
    plans: dict[str, dict[str, Plan]],
    labels: dict[str, str],
    titles_kept: dict[str, float],
) -> str:
    big, small = tenants[0], tenants[1:]
    chunks, _total, heap = facts["sizes"]["knowledge_chunks"]
    codes = list(dict.fromkeys(code for _label, code, _who in results))
    lines = [
        SECTION,
        "",
        f"`bench/knowledge_search.py --chunks {args.chunks} --repeat {args.repeat}"
        f"{' --not-leakproof' if args.not_leakproof else ''}`: a private embedded PostgreSQL "
        f"{facts['postgres']} with pgvector {facts['pgvector']} on a temporary data directory "
        f"(shared_buffers {facts['shared_buffers']}, work_mem {facts['work_mem']}, jit {facts['jit']}), "
        f"{os.cpu_count()} cores, {memory_gib()}, Python {platform.python_version()} (load average "
        f"{facts['load_before']:.1f} before the searches, {facts['load_after']:.1f} after). "
        f"{len(tenants)} organizations provisioned through the tenancy service; one has {big.chunks:,} passages in "
        f"{big.documents:,} documents, the other {len(small)} have {min(t.chunks for t in small)} to "
        f"{max(t.chunks for t in small)} ({sum(t.chunks for t in small):,} in all). Generated Portuguese "
        "help-center text (20 topics, Zipf-distributed words and slot values, 60-200 words a passage, titled "
        f"`document \u203a section`): {facts['distinct_lexemes']:,} distinct lexemes in the big collection, and "
        f"its common words are dense (`entreg` in {facts['df_entreg']:.0%} of the passages, `praz` in "
        f"{facts['df_praz']:.0%}). A {DIMS}-dimension unit vector per passage (its topic's centroid plus noise); "
        "no model is called: the query vectors are precomputed the same way.",
        "",
        "| data | rows | table + TOAST + indexes | heap |",
        "|---|---|---|---|",
    ]
    for table, (rows, total, table_heap) in facts["sizes"].items():
        lines.append(f"| `{table}` | {rows:,} | {mb(total)} | {mb(table_heap)} |")
    lines += ["", "| index of `knowledge_chunks` | size |", "|---|---|"]
    lines += [f"| `{name}` | {mb(size)} |" for name, size in facts["indexes"]]
    lines.append(f"| (TOAST of `knowledge_chunks`) | {mb(facts['toast'])} |")
    lines += [
        "",
        f"Seeding ({chunks:,} passages, heap {mb(heap)}) as the database owner: COPY into a staging table, one "
        "INSERT ... SELECT per core computing the `tsvector`, the lengths and the vectors, the term statistics "
        "with the ingestion's own `_count_terms`, the search indexes dropped first and built after "
        "(HNSW with maintenance_work_mem 1GB):",
        "",
        "| step | time |",
        "|---|---|",
    ]
    lines += [f"| {name} | {seconds:.1f} s |" for name, seconds in seeding.timings.items()]
    lines += [f"| **total** | **{sum(seeding.timings.values()):.1f} s** |", ""]
    lines += [
        f"Search latency, warm cache, {len(QUESTIONS)} questions x {args.repeat} after {WARMUP} for warm-up, one "
        f"tenant-scoped session per question, {LIMIT} results; the time of the search calls, not of opening the "
        'session. Full text is `search(mode="fulltext")`; vector and hybrid are the steps `search()` takes '
        "(collections, `_lexical`, `_titles`, `_vector`, `fuse`, `_hits`) with a precomputed query vector in "
        "place of `embed_query`.",
        "",
        "| search | code | tenant | p50 | p95 | mean | questions with no hit |",
        "|---|---|---|---|---|---|---|",
    ]
    for (label, code, who), measured in results.items():
        lines.append(
            f"| {label} | {code} | {labels[who]} | {measured.p50:.1f} ms | {measured.p95:.1f} ms "
            f"| {measured.mean:.1f} ms | {measured.empty} |"
        )
    lines += ["", "Mean time per step of the hybrid search:", ""]
    lines += ["| code | tenant | collections | lexical | titles | vector | hits |", "|---|---|---|---|---|---|---|"]
    for code in codes:
        for who in ("big", "small"):
            measured = results.get(("hybrid", code, who))
            if measured is None:
                continue
            cells = " | ".join(
                f"{measured.steps.get(name, 0.0):.1f} ms"
                for name in ("collections", "lexical", "titles", "vector", "hits")
            )
            lines.append(f"| {code} | {labels[who]} | {cells} |")
    lines += [
        "",
        f'Query plans of one hybrid search ("{QUESTIONS[0][0]}"), EXPLAIN (ANALYZE, BUFFERS) in the search\'s own '
        "transaction: as a first execution (a custom plan, for these values), and as the sixth execution of the "
        "prepared statement, which is what a pooled connection runs once it has seen the statement five times "
        "(SQLAlchemy's asyncpg driver prepares every statement):",
        "",
        "| statement | tenant | first execution | time | 6th execution | time |",
        "|---|---|---|---|---|---|",
    ]

    def indexes(names: list[str]) -> str:
        return ", ".join(f"`{name}`" for name in names) or "no index"

    for who in ("big", "small"):
        for name, plan in plans[who].items():
            kind = "generic plan" if plan.generic else "custom plan"
            lines.append(
                f"| {name} | {labels[who]} | {indexes(plan.indexes)}{', JIT' if plan.jit else ''} "
                f"| {plan.execution_ms:.1f} ms | {kind}: {indexes(plan.steady_indexes)} | {plan.steady_ms:.1f} ms |"
            )
    lines += ["", *findings(results, plans, labels, facts)]
    lines += ["", *remarks(results, titles_kept)]
    return "\n".join(lines) + "\n"


def findings(
    results: dict[tuple[str, str, str], Measured],
    plans: dict[str, dict[str, Plan]],
    labels: dict[str, str],
    facts: dict[str, Any],
) -> list[str]:
    """What the plans show, in words (each sentence only when the plans show it)."""
    out = []
    big, small = plans["big"], plans["small"]
    lexical = big.get("lexical (BM25)")
    if lexical and "ix_knowledge_chunks_tsv" not in lexical.indexes:
        out.append(
            f"- **Full text reads every passage of the tenant.** The GIN index on `tsv` is not used ({indexes_of(lexical)}"
            f" instead, {lexical.execution_ms:.0f} ms on the big tenant), so `tsv @@ query` is checked on each "
            "row the tenant filter returns: finding the candidates reads every passage of the tenant, however rare "
            "the query's lexemes."
            + (
                ""
                if facts["leakproof"]
                else " Under row-level security PostgreSQL lets only leakproof operators into an index condition, "
                "and `@@` (`ts_match_vq`) is not leakproof on this server."
            )
        )
    titles = big.get("titles (trigram)")
    if titles and "ix_knowledge_documents_trgm" not in titles.indexes:
        out.append(
            f"- **Titles compare the question with every document title of the tenant** ({titles.execution_ms:.0f} ms"
            f" on the big tenant, {facts['sizes']['knowledge_documents'][0]:,} documents in all): the trigram index "
            "is not used"
            + (
                " (the planner's choice)."
                if facts["leakproof"]
                else ", because `<%` is not leakproof on this server; `word_similarity` on each title is the cost."
            )
        )
    vector = big.get("vector (HNSW)")
    if vector:
        used = "ix_knowledge_chunks_embedding_384" in vector.indexes
        how = "the HNSW index" if used else f"{indexes_of(vector)} and a sort (not the HNSW index)"
        sentence = (
            f"- **Vectors**: as a first execution the big tenant's search uses {how} ({vector.execution_ms:.1f} ms)"
        )
        small_vector = small.get("vector (HNSW)")
        if small_vector:
            sentence += (
                f"; the small tenant's uses {indexes_of(small_vector)} and a sort ({small_vector.execution_ms:.1f} ms)"
            )
        sentence += "."
        if vector.generic and "ix_knowledge_chunks_embedding_384" not in vector.steady_indexes:
            measured = results.get(("vector", "current", "big"))
            sentence += (
                " From the sixth execution on a connection PostgreSQL switches to a generic plan, which cannot use "
                "the partial HNSW index (`embedding_dims = $4` does not prove `embedding_dims = 384`) and reads and "
                f"sorts every vector of the tenant ({indexes_of(vector, steady=True)}, {vector.steady_ms:.0f} ms)."
            )
            if measured:
                sentence += f" The measured vector p50 on the big tenant is {measured.p50:.0f} ms."
        elif not vector.generic:
            sentence += (
                " The search sets `plan_cache_mode = force_custom_plan`, so the sixth execution on a connection is "
                f"planned for its own values too and keeps {'the index' if used else 'that choice'} (a generic plan "
                "could not use the partial index: "
                "`embedding_dims = $4` does not prove `embedding_dims = 384`)."
            )
        out.append(sentence)
    if lexical and lexical.generic:
        out.append(f"- The lexical statement also switches to a generic plan ({lexical.steady_ms:.0f} ms).")
    if any(plan.jit for who in plans.values() for plan in who.values()):
        out.append("- JIT compiles some of these statements (see the plans): `jit = off` is worth trying.")
    return ["What the plans show:", "", *out] if out else []


def indexes_of(plan: Plan, *, steady: bool = False) -> str:
    names = plan.steady_indexes if steady else plan.indexes
    return ", ".join(f"`{name}`" for name in names) or "a sequential scan"


def remarks(results: dict[tuple[str, str, str], Measured], titles_kept: dict[str, float]) -> list[str]:
    out = [
        f"Without the title ranking the hybrid top {LIMIT} keeps {titles_kept['big']:.0%} of its passages on the "
        f"big tenant and {titles_kept['small']:.0%} on the small one (mean over the questions)."
    ]
    fallback = results.get(("full text (BM25)", NOT_LEAKPROOF, "big"))
    if fallback:
        out[0] += (
            f" The `{NOT_LEAKPROOF}` rows are the same code with the search functions not leakproof, as on a server "
            "migrated by a role that is not a superuser: row-level security then keeps the GIN and trigram indexes "
            f"out of the plans, and full text on the big tenant takes p50 {fallback.p50:.0f} ms, "
            f"p95 {fallback.p95:.0f} ms."
        )
    return out


NOTES = "<!-- Notes written by hand: bench/knowledge_search.py keeps what follows when it rewrites the section. -->"


def write_section(section: str, path: Path = DOCS) -> None:
    """Replace the "Knowledge search" section of docs/performance.md (or add it at the end), keeping the
    hand-written notes that follow the ``NOTES`` marker in it."""
    text = path.read_text()
    start = text.find(SECTION + "\n")
    if start < 0:
        path.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    following = text.find("\n## ", start + len(SECTION))
    end = following + 1 if following >= 0 else len(text)
    old = text[start:end]
    notes = old[old.find(NOTES) :].rstrip("\n") + "\n" if NOTES in old else ""
    rest = text[end:]
    path.write_text(text[:start] + section + ("\n" + notes if notes else "") + ("\n" + rest if rest else ""))


# --- main ------------------------------------------------------------------------------------------------


async def run(kernel: Any, args: argparse.Namespace, seeding: Seeding) -> str:
    seed = 20260101
    with seeding.step(f"provision {TENANTS} organizations (tenancy service)"):
        tenants = await provision(kernel, TENANTS)
    rng = random.Random(seed)
    tenants[0].chunks = args.chunks
    for tenant in tenants[1:]:
        tenant.chunks = rng.randint(*SMALL_CHUNKS)
    await load(kernel, tenants, seeding, seed)

    big = tenants[0]
    small = max(tenants[1:], key=lambda t: t.chunks)
    facts = await database_facts(kernel, big)
    labels = {"big": f"big ({big.chunks:,} passages)", "small": f"small ({small.chunks} passages)"}
    vectors = query_vectors(centroids(seed), seed + 1)
    who_is = {"big": big, "small": small}

    results: dict[tuple[str, str, str], Measured] = {}
    facts["load_before"] = os.getloadavg()[0]

    async def measure_all(modes: list[Mode], code: str, whom: tuple[str, ...] = ("big", "small")) -> None:
        for who in whom:
            for mode in modes:
                measured = results[(mode.label, code, who)] = await measure(who_is[who], mode, vectors, args.repeat)
                print(
                    f"{mode.label:<18} {code:<24} {labels[who]:<24} {measured.p50:7.1f}ms {measured.p95:7.1f}ms "
                    f"{measured.mean:7.1f}ms  {measured.empty}",
                    flush=True,
                )

    print(f"\n{'search':<18} {'code':<24} {'tenant':<24} {'p50':>9} {'p95':>9} {'mean':>9}  no hit", flush=True)
    await measure_all(MODES, "current")
    if args.not_leakproof:
        await set_leakproof(kernel, False)
        try:
            await measure_all([MODES[0], MODES[2]], NOT_LEAKPROOF, ("big",))
        finally:
            await set_leakproof(kernel, True)
    facts["load_after"] = os.getloadavg()[0]
    titles_kept = {who: await title_share(who_is[who], vectors) for who in ("big", "small")}
    print(f"hybrid top {LIMIT} kept without the title ranking: {titles_kept}")
    for (label, code, who), measured in results.items():
        if label == "hybrid":
            print(
                f"hybrid steps, {code}, {labels[who]}: "
                + ", ".join(f"{k} {v:.1f} ms" for k, v in measured.steps.items())
            )

    plans = {}
    for who in ("big", "small"):
        plans[who] = await explain(kernel, who_is[who], QUESTIONS[0][0], vectors[0])
        for name, plan in plans[who].items():
            print(f"\n--- EXPLAIN {name}, {labels[who]}, first execution ---\n{plan.text}")
            kind = "generic" if plan.generic else "custom"
            print(f"\n--- EXPLAIN {name}, {labels[who]}, 6th execution ({kind} plan) ---\n{plan.steady_text}")
    await kernel.db.dispose()
    return render(args, tenants, facts, seeding, results, plans, labels, titles_kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000, help="passages of the big tenant")
    parser.add_argument("--quick", action="store_true", help="5,000 passages, 2 repetitions, docs untouched")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the questions per measurement")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/performance.md as it is")
    parser.add_argument(
        "--not-leakproof",
        action="store_true",
        help="also measure with the search functions not leakproof (private server only)",
    )
    parser.add_argument("--keep", metavar="DIR", help="put the data directory here (new) and keep it, to look into")
    args = parser.parse_args()
    if args.quick:
        args.chunks, args.repeat, args.no_docs = 5000, 2, True

    from kernel.db.embedded import stop_embedded

    seeding = Seeding()
    with contextlib.ExitStack() as stack:
        if args.keep:
            data_dir = Path(args.keep).resolve()
            if data_dir.exists():
                parser.error(f"--keep {data_dir}: the directory exists; name a new one")
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="atendai-bench-")), "data")
        with seeding.step("start the embedded server, migrate"):
            kernel = start_database(data_dir)
        try:
            section = asyncio.run(run(kernel, args, seeding))
        finally:
            stop_embedded(data_dir)
    print("\n" + section)
    if not args.no_docs:
        write_section(section)
        print(f"updated {DOCS.relative_to(DOCS.parent.parent)}")


if __name__ == "__main__":
    main()
